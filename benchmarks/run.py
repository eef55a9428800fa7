"""trlrecipes benchmarks: every claim is a ratio measured side by side in one run on this machine.

    python benchmarks/run.py [--quick] [--only overhead,memory,padding,prep,startup] [--work DIR]

Prints a table (measured value, target, met / not met, note) and writes it to benchmarks/results.json.
See benchmarks/README.md for what each row measures and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench as B  # noqa: E402
import batching  # noqa: E402

from trlrecipes._compat import CPU_LOGPROB_CHUNK  # noqa: E402
from trlrecipes.data.batching import shuffled_length_groups  # noqa: E402

ROWS = ("overhead", "overhead135m", "memory", "padding", "epoch", "prep", "startup")
RESULTS = B.HERE / "results.json"


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, key: str, name: str, value, unit: str, target: str, met: bool | None, note: str, **details):
        row = {
            "id": key,
            "name": name,
            "value": value,
            "unit": unit,
            "target": target,
            "met": met,
            "note": note,
            "details": details,
            "load": B.load_avg(),
        }
        self.rows.append(row)
        shown = "n/a" if value is None else f"{value:.3g}{unit}"
        status = "-" if met is None else ("met" if met else "NOT MET")
        print(f"  => {name}: {shown} (target {target}: {status}) {note}", flush=True)

    def render(self) -> str:
        head = ("row", "measured", "target", "met", "note")
        lines = [
            [
                r["name"],
                "n/a" if r["value"] is None else f"{r['value']:.3g}{r['unit']}",
                r["target"],
                "-" if r["met"] is None else ("met" if r["met"] else "NOT MET"),
                r["note"],
            ]
            for r in self.rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
        widths[-1] = min(widths[-1], 100)
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        out += [fmt.format(*line) for line in lines]
        return "\n".join(out)


def markdown(rows: list[dict]) -> str:
    """The table as Markdown (for RESULTS.md): python benchmarks/run.py --markdown"""
    order = (
        "overhead",
        "memory",
        "padding_random",
        "padding_group",
        "padding_shuffled",
        "padding_epoch",
        "prep",
        "startup",
    )
    rows = sorted(rows, key=lambda r: next((i for i, p in enumerate(order) if r["id"].startswith(p)), len(order)))
    lines = ["| row | measured | target | met | note | load (1/5/15 min) |", "|---|---|---|---|---|---|"]
    for r in rows:
        value = "n/a" if r["value"] is None else f"{r['value']:.3g}{r['unit']}"
        met = "-" if r["met"] is None else ("met" if r["met"] else "**not met**")
        lines.append(f"| {r['name']} | {value} | {r['target']} | {met} | {r['note']} | {r.get('load', '')} |")
    return "\n".join(lines)


# --- 1. wrapper overhead ------------------------------------------------------------------------------------------
def wrapper_cmd(model: Path, raw: Path, out: Path, knobs: dict) -> list[str]:
    overrides = [
        f"model={model}",
        f"dataset={raw}",
        "data_format=hh-rlhf",
        "subset=",
        "eval_dataset=",
        f"output_dir={out}",
    ] + [f"{k}={v}" for k, v in knobs.items()]
    return B.trlrecipes_cmd() + ["run", "hh-dpo", *overrides]


_PLAIN_FLAGS = {
    "max_length": "--max-length",
    "per_device_train_batch_size": "--batch",
    "gradient_accumulation_steps": "--grad-accum",
    "max_steps": "--max-steps",
    "logging_steps": "--logging-steps",
    "save_steps": "--save-steps",
}


def plain_cmd(model: Path, pairs: Path, out: Path, knobs: dict, *extra: str) -> list[str]:
    cmd = [sys.executable, str(B.PLAIN), "--model", str(model), "--data", str(pairs), "--output-dir", str(out)]
    for key, value in knobs.items():
        if key == "activation_checkpointing":
            cmd += [] if value else ["--no-activation-checkpointing"]
        elif key == "trl.precompute_ref_log_probs":
            cmd += ["--precompute-ref"] if value else []
        else:
            cmd += [_PLAIN_FLAGS[key], str(value)]
    return cmd + list(extra)


WRAPPER_DEFAULTS = ("--head-chunk", str(CPU_LOGPROB_CHUNK), "--length-groups")


def overhead(
    table: Table,
    work: Path,
    env: dict,
    *,
    label: str,
    model: Path,
    raw: Path,
    pairs: Path,
    knobs: dict,
    skip: int,
    pairs_of_runs: int,
    poll: float,
) -> None:
    # One thread per run: no OpenMP spin-waiting, so the CPU time of a step is its work, whatever else the machine
    # does.
    env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    print(
        f"[overhead] {label}: {pairs_of_runs} x (plain TRL, trlrecipes), {knobs['max_steps']} steps each, "
        f"timing from step {skip}, OMP_NUM_THREADS=1",
        flush=True,
    )
    cpu = {"plain": [], "trlrecipes": []}
    wall = {"plain": [], "trlrecipes": []}
    cpu_ratios, wall_ratios, folders = [], [], {}
    for rep in range(pairs_of_runs):
        # A B B A A B ...: a load that rises or falls steadily during the row favours neither program
        for who in ("plain", "trlrecipes") if rep % 2 == 0 else ("trlrecipes", "plain"):
            out = work / f"overhead-{label.replace(' ', '-')}-{who}-{rep}"
            shutil.rmtree(out, ignore_errors=True)
            # the plain script mirrors what `trlrecipes run` adds on CPU: narrow head chunks, length-grouped batches
            cmd = (
                plain_cmd(model, pairs, out, knobs, *WRAPPER_DEFAULTS)
                if who == "plain"
                else wrapper_cmd(model, raw, out, knobs)
            )
            result = B.check(
                B.run_child(cmd, metrics=out / "metrics.jsonl", env=env, cwd=work, poll=poll), f"{who} run"
            )
            cpu[who].append(result.step_time(skip, cpu=True))
            wall[who].append(result.step_time(skip))
            folders[who] = out
            print(
                f"    {who:<10} rep {rep}: {cpu[who][-1]:.4f} CPU s/step, {wall[who][-1]:.4f} wall s/step "
                f"(load {B.load_avg()})",
                flush=True,
            )
        cpu_ratios.append(cpu["trlrecipes"][-1] / cpu["plain"][-1])
        wall_ratios.append(wall["trlrecipes"][-1] / wall["plain"][-1])
    diff = B.training_args_diff(folders["plain"], folders["trlrecipes"])
    ratio = statistics.median(cpu_ratios)
    settings_note = "same TrainingArguments" if not diff else f"TrainingArguments differ: {'; '.join(diff)}"
    table.add(
        f"overhead_{label.replace(' ', '_')}",
        f"wrapper overhead, {label} (CPU s/step ratio)",
        ratio,
        "x",
        "<= 1.02",
        ratio <= 1.02,
        f"CPU s/step plain {B.median(cpu['plain']):.3f}, trlrecipes {B.median(cpu['trlrecipes']):.3f}; "
        f"per-pair ratios {', '.join(f'{r:.3f}' for r in cpu_ratios)}; wall-clock ratios "
        f"{', '.join(f'{r:.3f}' for r in wall_ratios)}; {settings_note}",
        cpu=cpu,
        wall=wall,
        cpu_ratios=cpu_ratios,
        wall_ratios=wall_ratios,
        knobs=knobs,
        args_diff=diff,
    )


# --- 2. memory ----------------------------------------------------------------------------------------------------
def memory(table: Table, work: Path, env: dict, *, model: Path, model_desc: str, quick: bool, poll: float) -> None:
    data = B.write_jsonl(work / "long-pairs.jsonl", B.long_hh_rows(24))
    pairs = B.convert_for_plain(data, work / "long-pairs-conv.jsonl")
    knobs = {
        "max_length": 256,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "max_steps": 3,
        "logging_steps": 1,
        "save_steps": 1000,
    }
    env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # CPU time per step = work (see overhead)
    no_ac = {**knobs, "activation_checkpointing": False}
    chunk = ("--head-chunk", str(CPU_LOGPROB_CHUNK))
    malloc = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    # (key, description, program, knobs, extra plain-script flags, extra environment)
    configs = [
        ("textbook", "full fine-tuning + frozen reference copy", "plain", no_ac, ("--full-ft",), {}),
        (
            "hh-dpo",
            "trlrecipes run hh-dpo (defaults: LoRA, act. ckpt, 4096-column head chunks on CPU)",
            "wrapper",
            knobs,
            (),
            {},
        ),
    ]
    if not quick:
        configs += [
            ("lora", "plain TRL + LoRA, no act. ckpt", "plain", no_ac, (), {}),
            ("lora+ac", "plain TRL + LoRA + act. ckpt (TRL's DPOConfig default)", "plain", knobs, (), {}),
            (
                "hh-dpo+precompute",
                "hh-dpo + trl.precompute_ref_log_probs=true (reference pass before training)",
                "wrapper",
                {**knobs, "trl.precompute_ref_log_probs": "true"},
                (),
                {},
            ),
            (
                "lora+ac+chunk",
                "plain TRL + LoRA + act. ckpt, fused-head vocabulary chunk 4096 (TRL: 32768)",
                "plain",
                knobs,
                chunk,
                {},
            ),
            (
                "lora+ac+chunk+malloc",
                "as lora+ac+chunk, with MALLOC_MMAP_THRESHOLD_=131072",
                "plain",
                knobs,
                chunk,
                malloc,
            ),
        ]
    print(
        f"[memory] {model_desc}, max_length 256 (every sequence is exactly 256 tokens), batch 2, fp32, "
        f"{knobs['max_steps']} steps, OMP_NUM_THREADS=1; one fresh process per setting",
        flush=True,
    )
    measured = {}
    descriptions = {}
    for key, desc, program, run_knobs, extra, extra_env in configs:
        out = work / f"memory-{key}"
        shutil.rmtree(out, ignore_errors=True)
        if program == "plain":
            cmd = plain_cmd(model, pairs, out, run_knobs, *extra)
        else:
            cmd = wrapper_cmd(model, data, out, run_knobs)
        result = B.check(
            B.run_child(cmd, metrics=out / "metrics.jsonl", env={**env, **extra_env}, cwd=work, poll=poll), key
        )
        measured[key] = (result.peak_rss, result.step_time(1, cpu=True))
        descriptions[key] = desc
        print(
            f"    {key:<22} peak RSS {result.peak_rss / B.GB:.2f} GB, {measured[key][1]:.2f} CPU s/step "
            f"(load {B.load_avg()})  {desc}",
            flush=True,
        )
    textbook_rss = measured["textbook"][0]
    reference_step = measured.get("lora+ac", (None, None))[1]
    for key, (rss, step) in measured.items():
        ratio = rss / textbook_rss
        is_default = key == "hh-dpo"
        step_note = f"{step:.2f} CPU s/step" + (
            f" ({step / reference_step:.2f}x plain TRL LoRA+ckpt)" if reference_step else ""
        )
        table.add(
            f"memory_{key}",
            f"peak RSS {key} / textbook",
            ratio,
            "x",
            "<= 0.50" if is_default else "(reference)",
            (ratio <= 0.50) if is_default else None,
            f"{rss / B.GB:.2f} GB vs {textbook_rss / B.GB:.2f} GB; {step_note}; {descriptions[key]}",
            peak_rss=rss,
            step_seconds=step,
        )
    if reference_step:
        default_step = measured["hh-dpo"][1]
        table.add(
            "memory_step",
            "hh-dpo step time / plain TRL LoRA+ckpt",
            default_step / reference_step,
            "x",
            "<= 1.02 (no slower steps)",
            default_step / reference_step <= 1.02,
            f"{default_step:.2f} vs {reference_step:.2f} CPU s/step (steps 1-3, one thread)",
        )


# --- 3. padding -----------------------------------------------------------------------------------------------------
def token_lengths(pairs_file: Path, tokenizer) -> list[tuple[int, int, int]]:
    """(prompt, chosen reply, rejected reply) token counts as TRL's tokenization splits them."""
    out = []
    for line in pairs_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = tokenizer.apply_chat_template(
            row["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
        full = [
            tokenizer.apply_chat_template(row["prompt"] + row[k], tokenize=True, return_dict=True)["input_ids"]
            for k in ("chosen", "rejected")
        ]
        out.append((len(prompt), len(full[0]) - len(prompt), len(full[1]) - len(prompt)))
    return out


def padding(table: Table, work: Path, *, pairs: Path, data_desc: str, quick: bool) -> None:
    import torch
    from torch.utils.data import RandomSampler
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from trlrecipes.run.recipes import builtin_dir, load_program

    cfg = load_program(builtin_dir() / "dpo.py").Config()
    batch, accum, max_length = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.max_length
    tokenizer, tok_desc = B.real_tokenizer_or_tiny()
    real = token_lengths(pairs, tokenizer)
    rng = random.Random(0)
    # A full-size stand-in for hh-rlhf helpful-base (43,835 train pairs): each synthetic pair takes the prompt of one
    # real pair and the two replies of another, so lengths vary like the real data without exact duplicates.
    full_size = 43_835 if not quick else 8_000
    synthetic = [(rng.choice(real)[0],) + rng.choice(real)[1:] for _ in range(full_size)]
    print(
        f"[padding] {tok_desc}; {len(real)} real pairs ({data_desc}) and {full_size} recombined pairs; batch "
        f"{batch} x grad_accum {accum}, max_length {max_length}",
        flush=True,
    )
    epochs = 3
    for label, rows in (("real rows", real), (f"{full_size} pairs", synthetic)):
        seqs = [batching.pair_lengths(p, c, r, max_length) for p, c, r in rows]
        longest = [max(pair) for pair in seqs]
        group = batch * accum
        results = {}
        for name in ("random", "group_by_length", "shuffled_groups"):
            total = batching.PaddingStats()
            desc = []
            for epoch in range(epochs):
                gen = torch.Generator().manual_seed(epoch)
                if name == "random":
                    order = list(RandomSampler(range(len(seqs)), generator=gen))
                elif name == "group_by_length":
                    order = list(LengthGroupedSampler(group, lengths=longest, generator=gen))
                else:
                    order = shuffled_length_groups(longest, group, seed=epoch)
                stats = batching.padding_stats(order, seqs, batch)
                total.real += stats.real
                total.padded += stats.padded
                desc.append(batching.descending_share(order, longest, group))
            results[name] = (total, statistics.mean(desc))
        base = results["random"][0].padded
        role = {
            "random": "the Trainer's default (recipes with group_by_length=false); ",
            "group_by_length": "transformers' sampler, not usable as is with TRL's DPO columns; ",
            "shuffled_groups": "the recipes' default (group_by_length=true, trlrecipes.data.batching); ",
        }
        for name, (stats, descending) in results.items():
            is_target = name == "shuffled_groups" and label != "real rows"
            table.add(
                f"padding_{name}_{'real' if label == 'real rows' else 'full'}",
                f"real-token share, {name}, {label}",
                stats.share,
                "",
                ">= 0.90" if is_target else "(reference)",
                (stats.share >= 0.9) if is_target else None,
                f"{role[name]}est. time/epoch {stats.padded / base:.2f}x random (positions computed); next step "
                f"shorter in {descending:.0%} of steps (random order: ~50%)",
                real_tokens=stats.real,
                positions=stats.padded,
                descending_share=descending,
            )


def realtok_model(work: Path) -> tuple[Path, str]:
    """2 layers, hidden 32, with SmolLM2's tokenizer and vocabulary (49,152): realistic token counts, and a cost per
    step that grows with the positions computed (the vocabulary-sized head dominates), at a fraction of 135M's."""
    tokenizer, tok_desc = B.real_tokenizer_or_tiny()
    model = B.build_llama(
        work / "tiny-realtok",
        dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tokenizer),
        ),
        tokenizer,
    )
    return model, tok_desc


def epoch_time(table: Table, work: Path, env: dict, *, pairs: Path, poll: float) -> None:
    from trlrecipes.run.recipes import builtin_dir, load_program

    cfg = load_program(builtin_dir() / "dpo.py").Config()
    batch, max_length = cfg.per_device_train_batch_size, cfg.max_length
    model, tok_desc = realtok_model(work)
    print(
        f"[epoch] plain TRL script, one epoch of 96 real pairs, 2-layer model with the {tok_desc}: random "
        f"batches vs. shuffled length groups",
        flush=True,
    )
    # Measured: one epoch of 96 real pairs, hh-dpo's batch of 4 (no accumulation), max_length 512.
    subset = work / "hh-96-pairs.jsonl"
    subset.write_text("".join(pairs.read_text(encoding="utf-8").splitlines(keepends=True)[:96]), encoding="utf-8")
    knobs = {
        "max_length": max_length,
        "per_device_train_batch_size": batch,
        "gradient_accumulation_steps": 1,
        "logging_steps": 1,
        "save_steps": 1000,
    }
    env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runtime, cpu = {}, {}
    for name, extra in (("random", ()), ("shuffled_groups", ("--length-groups",))):
        out = work / f"padding-epoch-{name}"
        shutil.rmtree(out, ignore_errors=True)
        result = B.check(
            B.run_child(
                plain_cmd(model, subset, out, knobs, "--epochs", "1", *extra),
                metrics=out / "metrics.jsonl",
                env=env,
                cwd=work,
                poll=poll,
            ),
            f"epoch {name}",
        )
        final = [
            json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if "train_runtime" in line
        ]
        runtime[name] = final[-1]["train_runtime"]
        cpu[name] = result.log_times[-1][2] - result.log_times[0][2]  # CPU seconds from step 1 to the last step
        print(
            f"    one epoch of 96 pairs, {name}: {cpu[name]:.1f} CPU s after step 1, train_runtime "
            f"{runtime[name]:.1f} s (load {B.load_avg()})",
            flush=True,
        )
    ratio = cpu["shuffled_groups"] / cpu["random"]
    table.add(
        "padding_epoch_measured",
        "measured time per epoch, shuffled groups / random",
        ratio,
        "x",
        "(reference)",
        None,
        f"2-layer model, SmolLM2 vocabulary, 96 real pairs, batch 4, max_length 512, "
        f"one thread: {cpu['shuffled_groups']:.1f} vs {cpu['random']:.1f} CPU s (steps 2-24); train_runtime "
        f"{runtime['shuffled_groups']:.1f} vs {runtime['random']:.1f} s",
        cpu=cpu,
        train_runtime=runtime,
    )


# --- 4. preparation cache -----------------------------------------------------------------------------------------
def _arrow_files(cache: Path) -> set[str]:
    return {str(p) for p in cache.rglob("*.arrow")}


def prep(table: Table, work: Path, env: dict, *, raw_rows: list[dict], quick: bool, poll: float) -> None:
    model, tok_desc = realtok_model(work)
    # One small first step (1 pair, 128 tokens) so that the time measured is the preparation, not the training.
    knobs = {
        "max_steps": 1,
        "logging_steps": 1,
        "save_steps": 1,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 1,
        "max_length": 128,
    }
    # 5k rows, and the size of hh-rlhf helpful-base's train split (43,835 pairs), which hh-dpo trains on by default
    sizes = [5_000] if quick else [5_000, 43_835]
    for size in sizes:
        copies = -(-size // len(raw_rows))
        big = B.write_jsonl(work / f"hh-{size}.jsonl", (raw_rows * copies)[:size])
        print(
            f"[prep] {size} hh-rlhf rows (the sample repeated), 2-layer model with the {tok_desc}; command to "
            f"first logged step, cold datasets cache then warm; a fresh cache per pair",
            flush=True,
        )
        firsts, repeats, ratios, new_files = [], [], [], []
        for rep in range(1 if quick or size > 10_000 else 2):
            cache = work / f"hf-datasets-prep-{size}-{rep}"
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir()
            run_env = {**env, "HF_DATASETS_CACHE": str(cache)}
            seconds = []
            for attempt in ("cold", "warm"):
                out = work / f"prep-{size}-{rep}-{attempt}"
                shutil.rmtree(out, ignore_errors=True)
                before = _arrow_files(cache)
                result = B.check(
                    B.run_child(
                        wrapper_cmd(model, big, out, knobs),
                        metrics=out / "metrics.jsonl",
                        env=run_env,
                        cwd=work,
                        poll=poll,
                    ),
                    f"prep {attempt}",
                )
                seconds.append(result.first_log)
                if attempt == "warm":
                    new_files.append(sorted(_arrow_files(cache) - before))
                print(
                    f"    {attempt}: first step logged after {result.first_log:.1f} s (load {B.load_avg()})",
                    flush=True,
                )
            firsts.append(seconds[0])
            repeats.append(seconds[1])
            ratios.append(seconds[1] / seconds[0])
        ratio = statistics.median(ratios)
        sizes_new = [sum(Path(f).stat().st_size for f in files) for files in new_files]
        recomputed = max(len(files) for files in new_files)
        if not recomputed:
            what = "the repeated run wrote no cache file"
        elif max(sizes_new) < 1e6:  # a row-index file; converted rows and token ids take megabytes
            what = (
                f"the repeated run rewrote {recomputed} small cache file ({max(sizes_new) / 1e3:.0f} kB: TRL's "
                f"length filter, whose fingerprint includes output_dir); conversion and tokenization were cached"
            )
        else:
            what = f"the repeated run rewrote {max(sizes_new) / 1e6:.1f} MB of cache: something was recomputed"
        table.add(
            f"prep_{size}",
            f"time to first step, repeated / first run, {size} rows",
            ratio,
            "x",
            "<= 0.20",
            ratio <= 0.2,
            f"first {B.median(firsts):.1f} s, repeated {B.median(repeats):.1f} s; {what}",
            first=firsts,
            repeated=repeats,
            ratios=ratios,
            new_cache_files=new_files,
        )
        if size > 10_000:  # a cold run again, tokenizing in one process (the default here is one per core)
            cache = work / f"hf-datasets-prep-{size}-numproc"
            shutil.rmtree(cache, ignore_errors=True)
            out = work / f"prep-{size}-numproc"
            shutil.rmtree(out, ignore_errors=True)
            result = B.check(
                B.run_child(
                    wrapper_cmd(model, big, out, {**knobs, "trl.dataset_num_proc": 1}),
                    metrics=out / "metrics.jsonl",
                    env={**env, "HF_DATASETS_CACHE": str(cache)},
                    cwd=work,
                    poll=poll,
                ),
                "prep num_proc",
            )
            print(f"    cold, trl.dataset_num_proc=1: first step logged after {result.first_log:.1f} s", flush=True)
            table.add(
                f"prep_{size}_numproc",
                f"first run, default ({os.cpu_count()} tokenizer processes) / one, {size} rows",
                B.median(firsts) / result.first_log,
                "x",
                "(reference)",
                None,
                f"{B.median(firsts):.1f} s vs {result.first_log:.1f} s with trl.dataset_num_proc=1",
                seconds=result.first_log,
            )


# --- 5. start-up --------------------------------------------------------------------------------------------------
def startup(table: Table, work: Path, env: dict, *, quick: bool) -> None:
    reps = 3 if quick else 7
    print(f"[startup] median of {reps} runs after one warm-up run", flush=True)
    for args in (["--help"], ["ls"]):
        cmd = B.trlrecipes_cmd() + args
        B.check(B.run_child(cmd, env=env, cwd=work), " ".join(args))
        walls = [B.check(B.run_child(cmd, env=env, cwd=work), " ".join(args)).seconds for _ in range(reps)]
        value = statistics.median(walls)
        table.add(
            f"startup_{args[0].strip('-')}",
            f"start-up: trlrecipes {' '.join(args)}",
            value,
            " s",
            "<= 0.3 s",
            value <= 0.3,
            f"min {min(walls):.3f} s, max {max(walls):.3f} s",
            walls=walls,
        )


# --- main -----------------------------------------------------------------------------------------------------------
def machine() -> dict:
    from importlib.metadata import version

    versions = {}
    for name in ("trlrecipes", "trl", "transformers", "peft", "torch", "datasets", "accelerate"):
        try:
            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "versions": versions,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats; skips the 135M overhead row")
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}")
    parser.add_argument("--work", help="working folder (default: a temporary folder, removed afterwards)")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the table as JSON")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of an existing --json file that this run does not measure again",
    )
    parser.add_argument(
        "--pairs-135m",
        type=int,
        default=2,
        help="(plain, trlrecipes) run pairs for the 135M overhead row; more for a noisy machine",
    )
    parser.add_argument(
        "--random-135m",
        action="store_true",
        help="use a random SmolLM2-shaped Llama even when the converted SmolLM2 copy is available",
    )
    parser.add_argument("--markdown", action="store_true", help="print the --json file as a Markdown table and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.json).read_text())["rows"]))
        return 0
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(ROWS)
    if unknown:
        parser.error(f"unknown row(s) {', '.join(sorted(unknown))}; choose from {', '.join(ROWS)}")
    os.environ.update(B.ENV)
    work, temp = B.work_folder(args.work, prefix="trlrecipes-bench-")
    env = B.child_env(HF_DATASETS_CACHE=work / "hf-datasets")
    os.environ["HF_DATASETS_CACHE"] = str(work / "hf-datasets")
    started = time.time()
    info = machine()
    info["load_at_start"] = B.load_avg()
    print(
        f"trlrecipes benchmarks ({'quick' if args.quick else 'full'}): {info['cpus']} CPUs, load "
        f"{info['load_at_start']}, work folder {work}",
        flush=True,
    )
    table = Table()
    poll = 0.01
    try:
        raw_rows, data_desc = B.hh_raw_rows()
        raw = B.write_jsonl(work / "hh-sample.jsonl", raw_rows)  # no "train" in the name: no eval split is looked for
        pairs = B.convert_for_plain(raw, work / "hh-sample-pairs.jsonl")
        if "startup" in only:
            startup(table, work, env, quick=args.quick)
        if "padding" in only:
            padding(table, work, pairs=pairs, data_desc=data_desc, quick=args.quick)
        if "epoch" in only and not args.quick:
            epoch_time(table, work, env, pairs=pairs, poll=poll)
        if "overhead" in only:
            tiny = B.tiny_model(work)
            # hh-dpo's batch of 4 pairs, max_length 512, activation checkpointing and logging every 10 steps, but no
            # gradient accumulation: 4x the optimizer steps and log events per second of compute (a stricter test)
            knobs = {"gradient_accumulation_steps": 1, "max_steps": 40 if args.quick else 70, "save_steps": 1000}
            overhead(
                table,
                work,
                env,
                label="tiny model",
                model=tiny,
                raw=raw,
                pairs=pairs,
                knobs=knobs,
                skip=10,
                pairs_of_runs=3 if args.quick else 4,
                poll=poll,
            )
        if "overhead135m" in only and not args.quick:
            smol, smol_desc = B.smol_model(work, random_weights=args.random_135m)
            knobs = {
                "max_length": 256,
                "per_device_train_batch_size": 2,
                "gradient_accumulation_steps": 1,
                "max_steps": 6,
                "logging_steps": 1,
                "save_steps": 1000,
            }
            overhead(
                table,
                work,
                env,
                label="135M model",
                model=smol,
                raw=raw,
                pairs=pairs,
                knobs=knobs,
                skip=2,
                pairs_of_runs=args.pairs_135m,
                poll=poll,
            )
        if "memory" in only:
            smol, smol_desc = B.smol_model(work, random_weights=args.random_135m)
            memory(table, work, env, model=smol, model_desc=smol_desc, quick=args.quick, poll=poll)
        if "prep" in only:
            prep(table, work, env, raw_rows=raw_rows, quick=args.quick, poll=poll)
    finally:
        info["load_at_end"] = B.load_avg()
        info["seconds"] = round(time.time() - started, 1)
        print("\n" + table.render())
        print(
            f"\n{info['cpus']} CPUs; load average at start {info['load_at_start']}, at end {info['load_at_end']}; "
            f"{info['seconds']:.0f} s in all"
        )
        rows = table.rows
        runs = [{"rows_run": only, "quick": args.quick, "machine": info}]
        if args.merge and Path(args.json).is_file():
            previous = json.loads(Path(args.json).read_text())
            measured = {row["id"] for row in rows}
            rows = [row for row in previous.get("rows", []) if row["id"] not in measured] + rows
            runs = previous.get("runs", []) + runs
        result = {"finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": runs, "rows": rows}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"written: {args.json}")
        if temp is not None:
            temp.cleanup()
    return 0 if all(row["met"] is not False for row in table.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
