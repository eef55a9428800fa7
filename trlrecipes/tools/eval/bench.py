"""`trlrecipes eval RUN --bench TASKS`: did preference tuning cost general ability? (the "alignment tax")

The run's model is scored on standard benchmarks by EleutherAI's lm-evaluation-harness (`lm-eval`, an optional
extra: `pip install "trlrecipes[bench]"`) twice with the same settings: as the reference (the LoRA adapter off: the
base model the run started from) and as trained (adapter on). TASKS are lm-eval's own task or group names
(`gsm8k`, `arc_easy`, `hellaswag`, `ifeval`, `mmlu`...) or paths to task YAML files or folders of them (lm-eval's
task format: a local `dataset_path: json` task runs without network). `--bench-option key=value` passes
`simple_evaluate`'s own options through (num_fewshot, limit, batch_size, apply_chat_template, gen_kwargs, ...).

For each task and metric the table shows both scores, the difference and its standard error. Where lm-eval logged
the per-example scores of both runs (it does by default), the difference is paired: the mean of the per-example
differences and their standard error (the same examples scored by both, so the noise common to both cancels);
otherwise the two reported standard errors are combined as independent. The verdict `regression` is raised when the
trained model is worse by more than two standard errors of the difference on a metric where higher is better (or
better, by the metric's direction); it is recorded in eval.json under "bench" and shown by `report` and `compare`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from trlrecipes.errors import UserError

INSTALL = 'pip install "trlrecipes[bench]"'
# simple_evaluate options a user may set with --bench-option, and their types; the rest trlrecipes sets itself.
OPTIONS = {
    "num_fewshot": int,
    "limit": float,
    "batch_size": int,
    "apply_chat_template": bool,
    "fewshot_as_multiturn": bool,
    "gen_kwargs": str,
    "system_instruction": str,
    "bootstrap_iters": int,
    "random_seed": int,
    "confirm_run_unsafe_code": bool,
}
REGRESSION_SE = 2.0  # worse by more than two standard errors of the difference: unlikely from noise (~2.5 % one-sided)


def parse_options(items: list[str]) -> dict:
    from trlrecipes.values import coerce, suggest

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in OPTIONS:
            hint = suggest(key, list(OPTIONS)) if sep else ""
            raise UserError(
                f"--bench-option {item!r}: use key=value with one of {', '.join(OPTIONS)}{hint} (lm-eval's "
                f"simple_evaluate options)"
            )
        options[key] = coerce(value, OPTIONS[key], key)
    if "limit" in options and options["limit"] >= 1:
        options["limit"] = int(options["limit"])  # lm-eval: a count when >= 1, a share of the examples below
    return options


def _task_manager(tasks: list[str]):
    """lm-eval's TaskManager: with only local task files it indexes just their folders (a second, not ~10 s)."""
    from lm_eval.tasks import TaskManager

    paths = [Path(t).expanduser() for t in tasks if _is_path(t)]
    folders = sorted({str(p if p.is_dir() else p.parent) for p in paths})
    return TaskManager(include_path=folders or None, include_defaults=len(paths) < len(tasks))


def _is_path(task: str) -> bool:
    return task.endswith((".yaml", ".yml")) or "/" in task or Path(task).expanduser().exists()


def resolve_tasks(tasks: list[str], manager) -> list[str]:
    """lm-eval task names for the given names and files; an unknown name is one line with the closest known ones."""
    import difflib

    import yaml

    names = []
    for task in tasks:
        if _is_path(task):
            path = Path(task).expanduser()
            if not path.exists():
                raise UserError(f"--bench {task}: file not found; give an lm-eval task name or a task YAML file")
            if path.is_dir():
                names += [name for name in manager.all_tasks if _defined_in(manager, name, path)]
                continue
            try:
                config = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as err:
                raise UserError(f"--bench {task}: not a readable task YAML ({str(err).splitlines()[0]})") from err
            name = config.get("task") if isinstance(config, dict) else None
            if not isinstance(name, str):
                raise UserError(f"--bench {task}: a task YAML names its task (`task: my_task`); this one does not")
            names.append(name)
        elif task in manager.all_tasks:
            names.append(task)
        else:
            close = difflib.get_close_matches(task, manager.all_tasks, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(
                f"--bench {task}: not an lm-eval task or group{hint} (lm-eval {_version()} knows "
                f"{len(manager.all_tasks)}; list them with `lm-eval ls tasks`)"
            )
    if not names:
        raise UserError("--bench: no task given; e.g. --bench arc_easy,hellaswag or --bench path/to/task.yaml")
    return names


def _defined_in(manager, name: str, folder: Path) -> bool:
    info = manager.task_index.get(name, {})
    yaml_path = info.get("yaml_path") if isinstance(info, dict) else None
    return isinstance(yaml_path, str) and Path(yaml_path).resolve().is_relative_to(folder.resolve())


def _version() -> str:
    from importlib.metadata import version

    return version("lm-eval")


def bench_run(run_dir: Path, tasks: list[str], *, options: dict | None = None, model_and_tokenizer=None) -> dict:
    """Score the reference (adapter off) and the trained model (adapter on) on `tasks`; returns eval.json's
    "bench" figures."""
    try:
        import lm_eval  # noqa: F401
    except ImportError as err:
        raise UserError(f"--bench needs lm-evaluation-harness, which is not installed: {INSTALL}") from err
    from trlrecipes.tools.loading import check_policy_run, load_policy, open_run

    run_dir = Path(run_dir)
    cfg = open_run(run_dir)
    check_policy_run(run_dir, "eval --bench")
    manager = _task_manager(tasks)
    names = resolve_tasks(tasks, manager)  # before the model loads: a typo costs seconds
    model, tokenizer = model_and_tokenizer or load_policy(run_dir, cfg)
    settings = {"batch_size": 8, "bootstrap_iters": 1000, **(options or {})}
    runs = {}
    for side in ("reference", "trained"):
        print(
            f"eval --bench: {side} ({'adapter off' if side == 'reference' else 'adapter on'}) on {', '.join(names)}",
            file=sys.stderr,
            flush=True,
        )
        if side == "reference":
            with model.disable_adapter():
                runs[side] = _evaluate(model, tokenizer, names, manager, settings)
        else:
            runs[side] = _evaluate(model, tokenizer, names, manager, settings)
    rows = compare(runs["reference"], runs["trained"])
    return {
        "run": str(run_dir),
        "harness": f"lm-eval {_version()}",
        "tasks": names,
        "options": {key: value for key, value in settings.items()},
        "rows": rows,
        "verdicts": [regression_verdict(row) for row in rows if row["verdict"] == "regression"],
    }


def _evaluate(model, tokenizer, names: list[str], manager, settings: dict) -> dict:
    import contextlib
    import io
    import logging

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from trlrecipes.console import is_verbose

    batch_size = settings.get("batch_size", 8)
    kwargs = {key: value for key, value in settings.items() if key != "batch_size"}
    quiet = contextlib.nullcontext() if is_verbose() else contextlib.redirect_stderr(io.StringIO())
    if not is_verbose():  # lm-eval's log lines and progress bars (stderr), as for the other libraries
        for name in ("lm-eval", "lm_eval"):
            logging.getLogger(name).setLevel(logging.ERROR)
    with quiet:
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
        results = simple_evaluate(model=lm, tasks=names, task_manager=manager, log_samples=True, **kwargs)
    return results or {}


def _metrics(results: dict) -> dict[tuple[str, str], dict]:
    """{(task, "metric,filter"): {"value", "stderr", "higher_is_better"}} from a simple_evaluate result."""
    out = {}
    higher = results.get("higher_is_better", {})
    for task, values in (results.get("results") or {}).items():
        for key, value in values.items():
            # "metric,filter" keys hold the scores ("sample_len", "alias" and the stderrs are not scores)
            if "," not in key or "_stderr," in key or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            metric, _, filt = key.partition(",")
            stderr = values.get(f"{metric}_stderr,{filt}")
            out[(task, key)] = {
                "value": float(value),
                "stderr": float(stderr) if isinstance(stderr, (int, float)) else None,
                "higher_is_better": (higher.get(task) or {}).get(metric, True),
            }
    return out


def _per_example(results: dict, task: str, metric: str) -> dict:
    """doc_id -> the metric's value for that example, from lm-eval's logged samples."""
    found = {}
    for sample in (results.get("samples") or {}).get(task, []):
        value = sample.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[sample.get("doc_id")] = float(value)
        elif isinstance(value, bool):
            found[sample.get("doc_id")] = float(value)
    return found


def compare(reference: dict, trained: dict) -> list[dict]:
    """One row per (task, metric): both scores, the difference, its standard error (paired where per-example scores
    of both runs are there), and the verdict."""
    ref, new = _metrics(reference), _metrics(trained)
    rows = []
    for (task, key), before in ref.items():
        after = new.get((task, key))
        if after is None:
            continue
        metric = key.partition(",")[0]
        difference = after["value"] - before["value"]
        a, b = _per_example(reference, task, metric), _per_example(trained, task, metric)
        common = sorted(set(a) & set(b), key=str)
        if len(common) >= 2:
            diffs = [b[i] - a[i] for i in common]
            mean = sum(diffs) / len(diffs)
            variance = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
            stderr, how = math.sqrt(variance / len(diffs)), f"paired over {len(common)} examples"
        elif before["stderr"] is not None and after["stderr"] is not None:
            stderr, how = math.sqrt(before["stderr"] ** 2 + after["stderr"] ** 2), "independent (lm-eval's stderrs)"
        else:
            stderr, how = None, "no standard error"
        worse = -difference if before["higher_is_better"] else difference
        verdict = "regression" if stderr is not None and worse > REGRESSION_SE * stderr and worse > 0 else "ok"
        rows.append(
            {
                "task": task,
                "metric": key,
                "reference": before["value"],
                "trained": after["value"],
                "difference": difference,
                "stderr": stderr,
                "stderr_kind": how,
                "higher_is_better": before["higher_is_better"],
                "verdict": verdict,
            }
        )
    return rows


def regression_verdict(row: dict) -> dict:
    return {
        "code": "regression",
        "message": (
            f"{row['task']} {row['metric']}: {row['reference']:.4f} -> {row['trained']:.4f} "
            f"({row['difference']:+.4f}, more than {REGRESSION_SE:g} standard errors of the difference)"
        ),
        "cause": "the preference training moved the model away from what it could already do (the alignment tax)",
        "fix": (
            "train less far from the reference: a larger beta, a lower learning_rate or fewer steps, or an SFT term "
            "on the chosen replies (loss_type=sigmoid,sft); then run --bench again"
        ),
    }


def format_bench(result: dict) -> str:
    rows = result["rows"]
    width = max([len(f"{r['task']} {r['metric']}") for r in rows] + [12])
    lines = [
        f"benchmarks ({result['harness']}), reference (adapter off) vs trained (adapter on):",
        f"{'task / metric':<{width}}  {'reference':>10}  {'trained':>10}  {'difference':>11}  {'stderr':>8}  verdict",
    ]
    for r in rows:
        stderr = f"{r['stderr']:.4f}" if r["stderr"] is not None else "-"
        lines.append(
            f"{r['task'] + ' ' + r['metric']:<{width}}  {r['reference']:>10.4f}  {r['trained']:>10.4f}  "
            f"{r['difference']:>+11.4f}  {stderr:>8}  {r['verdict']}"
        )
    kinds = sorted({r["stderr_kind"] for r in rows})
    lines.append(f"standard error of the difference: {'; '.join(kinds)}")
    from trlrecipes.monitor.health import Verdict, format_verdict

    for verdict in result["verdicts"]:
        lines.append(
            format_verdict(Verdict(verdict["code"], 0, verdict["message"], verdict["cause"], verdict["fix"])).replace(
                " (step 0)", ""
            )
        )
    if not result["verdicts"]:
        lines.append("no regression: no metric is worse by more than two standard errors of the difference")
    return "\n".join(lines)
