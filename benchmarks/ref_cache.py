"""Should trlrecipes precompute the reference log-probs by default? End-to-end runs, each a fresh `trlrecipes run`
process, compared on wall time, CPU time and peak RSS (os.wait4 of the child):

  live        trl.precompute_ref_log_probs=false: the reference forward inside every step (TRL's default)
  auto-cold   the default (trlrecipes.run.refcache decides), empty reference cache
  pre-cold    trl.precompute_ref_log_probs=true, empty cache: one length-sorted pass before step 1
  pre-warm    the same again: read from the cache
and a 3-member beta sweep (`trlrecipes sweep`, one process, shared reference pass) against three independent live
runs. Rows are interleaved over --repeat rounds so a change in the machine's load hits every variant alike.

Default: the tiny test model (build_tiny_model) on the demo's pairs, one epoch (max_train_rows x batch), evaluation
during training; `--model smollm2-135m-offline` for the real one (minutes per run).
Usage: python benchmarks/ref_cache.py [--repeat 2] [--model PATH_OR_ALIAS] [--rows 64] [--no-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLI = [sys.executable, "-m", "trlrecipes.cli"]


def child(command: list[str], env: dict, cwd: Path) -> dict:
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {
        "wall": time.monotonic() - start,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_gb": usage.ru_maxrss / 1024**2,
        "output": output,
    }


def losses(run_dir: Path) -> list[float]:
    """Every train and eval loss a run logged, in order."""
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        out += [row[key] for key in ("loss", "eval_loss") if isinstance(row.get(key), (int, float))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--model", default="")
    parser.add_argument("--rows", type=int, default=64, help="training pairs (one epoch at batch 4)")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--only-sweep", action="store_true", help="only the sweep against three independent runs")
    parser.add_argument("--learning-rate", default="1e-4", help="3e-4 with --rows 40: the hh-dpo demo's settings")
    args = parser.parse_args()
    from trlrecipes.demo import DEMO_TEST, DEMO_TRAIN

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if not model:
            from trlrecipes.testing import build_tiny_model

            model = str(build_tiny_model(work / "tiny"))
        steps = args.rows // 4
        common = [
            f"model={model}",
            f"dataset={DEMO_TRAIN}",
            f"eval_dataset={DEMO_TEST}",
            "data_format=hh-rlhf",
            "subset=",
            f"max_train_rows={args.rows}",
            "max_eval_rows=32",
            "max_length=192",
            "per_device_train_batch_size=4",
            "gradient_accumulation_steps=1",
            "per_device_eval_batch_size=8",
            f"max_steps={steps}",
            f"logging_steps={max(1, steps // 4)}",
            f"save_steps={steps}",
            # --only-sweep: no evaluation during training, as in the demo (the shared pass then covers the train pairs)
            f"eval_steps={0 if args.only_sweep else max(1, steps // 2)}",
            f"learning_rate={args.learning_rate}",
            "activation_checkpointing=false",
        ]
        base_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRL_EXPERIMENTAL_SILENCE": "1",
            "HF_DATASETS_CACHE": str(work / "hf"),
        }
        rows: dict[str, list[dict]] = {}
        same_losses: dict[str, list] = {}  # beta -> [(sweep member's logged losses, independent run's)] per round
        for round_ in range(args.repeat):
            warm_cache = work / f"cache-warm-{round_}"
            variants = (
                ("live", "false", work / f"c-live-{round_}"),
                ("auto-cold", None, work / f"c-auto-{round_}"),
                ("pre-cold", "true", warm_cache),
                ("pre-warm", "true", warm_cache),
            )
            for name, flag, cache in () if args.only_sweep else variants:
                out = work / f"{name}-{round_}"
                extra = [f"trl.precompute_ref_log_probs={flag}"] if flag else []
                env = {**base_env, "TRLRECIPES_CACHE": str(cache)}
                result = child(CLI + ["run", "hh-dpo", *common, *extra, f"output_dir={out}"], env, work)
                line = next((x for x in result["output"].splitlines() if x.startswith("reference log-probs:")), "")
                result["reference"] = line[len("reference log-probs: ") :][:60]
                result["eval_loss"] = [
                    json.loads(x).get("eval_loss")
                    for x in (out / "metrics.jsonl").read_text().splitlines()
                    if "eval_loss" in x
                ][-1]
                rows.setdefault(name, []).append(result)
            if not args.no_sweep:
                betas = ("0.1", "0.2", "0.3")
                env = {**base_env, "TRLRECIPES_CACHE": str(work / f"c-sweep-{round_}")}
                start = [
                    child(
                        CLI
                        + [
                            "run",
                            "hh-dpo",
                            *common,
                            f"beta={b}",
                            "trl.precompute_ref_log_probs=false",
                            f"output_dir={work / f'ind-{round_}-{b}'}",
                        ],
                        env,
                        work,
                    )
                    for b in betas
                ]
                total = {k: sum(r[k] for r in start) for k in ("wall", "cpu")}
                total.update(rss_gb=max(r["rss_gb"] for r in start), reference="live x 3")
                rows.setdefault("3 independent live runs", []).append(total)
                swept = child(
                    CLI
                    + [
                        "sweep",
                        "hh-dpo",
                        "beta=" + ",".join(betas),
                        *common,
                        "--no-eval",
                        "--out",
                        str(work / f"sweep-{round_}"),
                    ],
                    env,
                    work,
                )
                swept["reference"] = f"{swept['output'].count('from the cache')} of 3 from the cache"
                rows.setdefault("sweep of 3 (one process)", []).append(swept)
                record = json.loads((work / f"sweep-{round_}" / "sweep.json").read_text())
                for member in record["members"]:
                    beta = str(member["settings"]["beta"])
                    pair = [losses(Path(member["dir"])), losses(work / f"ind-{round_}-{beta}")]
                    same_losses.setdefault(beta, []).append(pair)
        load = os.getloadavg()
    print(f"{'variant':<26}{'wall s':>8}{'CPU s':>8}{'peak RSS GB':>13}  reference log-probs")
    for name, results in rows.items():
        wall = sorted(r["wall"] for r in results)[len(results) // 2]
        cpu = sorted(r["cpu"] for r in results)[len(results) // 2]
        rss = max(r["rss_gb"] for r in results)
        print(f"{name:<26}{wall:>8.1f}{cpu:>8.1f}{rss:>13.2f}  {results[0]['reference']}")
    medians = {name: sorted(r["cpu"] for r in results)[len(results) // 2] for name, results in rows.items()}
    walls = {name: sorted(r["wall"] for r in results)[len(results) // 2] for name, results in rows.items()}
    ratios = []
    if not args.only_sweep:
        ratios = [f"{n}/live {medians[n] / medians['live']:.2f}x" for n in ("pre-cold", "auto-cold", "pre-warm")]
    if not args.no_sweep:
        sweep, independent = "sweep of 3 (one process)", "3 independent live runs"
        ratios.append(f"sweep/3 independent {medians[sweep] / medians[independent]:.2f}x")
        ratios.append(f"(wall {walls[sweep] / walls[independent]:.2f}x)")
    print("CPU ratios: " + ", ".join(ratios))
    same = {name: [r.get("eval_loss") for r in results] for name, results in rows.items() if "eval_loss" in results[0]}
    print(f"final eval_loss per variant (same settings, same data): {same}")
    for beta, pairs in same_losses.items():
        worst = max(max(abs(a - b) for a, b in zip(*pair, strict=True)) for pair in pairs)
        print(f"beta={beta}: {len(pairs[0][0])} losses, sweep member vs independent run: max |diff| {worst:.1e}")
    print(
        f"medians of {args.repeat} interleaved rounds; load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    (HERE / ("ref_cache_sweep_results.json" if args.only_sweep else "ref_cache_results.json")).write_text(
        json.dumps(
            {name: [{k: v for k, v in r.items() if k != "output"} for r in results] for name, results in rows.items()},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
