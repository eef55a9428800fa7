"""`trlrecipes sweep RECIPE key=v1,v2 ...` and `trlrecipes compare RUN_DIR ...`.

A sweep is a grid of ordinary runs, one after another in this process, each in its own run folder under one sweep
folder. Members that differ only in training settings (beta, learning rate, LoRA, ...) share one reference pass:
the first computes the reference log-probs and caches them (trlrecipes.run.refcache), the others read them. A rerun
of the same command skips the members that finished and retries the others; a member that fails is reported and the
sweep goes on. `sweep.json` records the grid and every member; the table and `compare.png` are the same as
`trlrecipes compare` prints and draws for any finished run folders.

Value syntax: a comma separates the values to sweep (`beta=0.05,0.1,0.2`); square brackets keep commas inside one
value (`trl.report_to=[wandb,tensorboard]`, `lora_target=[q_proj,v_proj],[all-linear]`): the brackets are removed
and the value inside is passed as typed, so a list-valued key gets its usual `a,b` form. Brackets rather than a
second separator such as `;`, because `;` (like `|`) ends a command in every shell and would need quoting each time,
and `[a,b]` already reads as a list; in zsh quote such an argument (`'key=[a,b]'`), since zsh globs on brackets.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from trlrecipes.errors import UserError

SWEEP_FILE = "sweep.json"
PLOT_FILE = "compare.png"
# Settings that change the reference log-probs (model, tokens, length, precision): sweeping one of them gives every
# member its own reference pass, so the sweep does not count on sharing one.
REFERENCE_KEYS = {
    "model",
    "precision",
    "load_in_4bit",
    "trust_remote_code",
    "dataset",
    "eval_dataset",
    "data_format",
    "subset",
    "split",
    "eval_split",
    "max_train_rows",
    "max_eval_rows",
    "eval_share",
    "max_length",
}
FINISHED = ("completed", "diverged")  # a result either way: a rerun does not train them again


def split_values(text: str) -> list[str]:
    """`a,b,[c,d]` -> ['a', 'b', 'c,d']: top-level commas separate values, brackets group (and are removed)."""
    values, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
            if depth == 1:
                continue
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise UserError(f"unbalanced ']' in {text!r}; wrap a value that holds commas in [...]")
            if depth == 0:
                continue
        elif char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        current += char
    if depth:
        raise UserError(f"unbalanced '[' in {text!r}; wrap a value that holds commas in [...]")
    values.append(current)
    return values


def parse_grid(items: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """key=value items -> ({swept key: values}, fixed key=value items). A fixed key given twice: the last wins, as
    with `trlrecipes run`; a swept key must be given once."""
    grid: dict[str, list[str]] = {}
    fixed: list[str] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{item!r}: settings are key=value (sweep several values with key=v1,v2)")
        values = split_values(value)
        if key in grid or (len(values) > 1 and any(f.partition("=")[0] == key for f in fixed)):
            raise UserError(f"{key} is given twice; list all its values once: {key}=v1,v2")
        if len(values) > 1:
            if any(not v for v in values):
                raise UserError(f"{item!r}: an empty value in the list; write {key}=v1,v2 without a trailing comma")
            if len(set(values)) < len(values):
                raise UserError(f"{item!r}: a value is repeated")
            grid[key] = values
        else:
            fixed.append(f"{key}={values[0]}")
    if not grid:
        raise UserError("nothing to sweep: give at least one key with several values, e.g. beta=0.05,0.1,0.2")
    return grid, fixed


def members(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def member_name(index: int, settings: dict[str, str]) -> str:
    text = "_".join(f"{key.removeprefix('trl.')}={value}" for key, value in settings.items())
    return f"{index:02d}-" + re.sub(r"[^A-Za-z0-9._=+-]+", "+", text)[:80]


def default_sweep_dir(recipe: str, grid: dict, fixed: list[str], demo: bool) -> Path:
    """Named after the command's settings, so running the same command again finds (and resumes) the same sweep."""
    digest = hashlib.sha256(json.dumps([recipe, grid, sorted(fixed), demo]).encode()).hexdigest()[:8]
    return Path("runs") / "sweeps" / f"{Path(recipe).stem}-{digest}"


def _status(folder: Path) -> str | None:
    try:
        return json.loads((folder / "run.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def sweep(
    recipe: str,
    items: list[str],
    *,
    demo: bool = False,
    out: Path | None = None,
    evaluate: bool = True,
    config_file: str | None = None,
) -> dict:
    """Run the grid; returns the sweep record (also written to sweep.json)."""
    from trlrecipes import api
    from trlrecipes.run import refcache

    grid, fixed = parse_grid(items)
    if any(item.partition("=")[0] == "output_dir" for item in fixed) or "output_dir" in grid:
        raise UserError("output_dir is chosen by the sweep (one folder per member); pass --out SWEEP_FOLDER instead")
    folder = Path(out) if out else default_sweep_dir(recipe, grid, fixed, demo)
    grid_members = members(grid)
    for settings in grid_members:  # every member's settings are checked before anything trains
        api.config(recipe, *fixed, *(f"{k}={v}" for k, v in settings.items()), demo=demo, config_file=config_file)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "recipe": recipe,
        "demo": demo,
        "grid": grid,
        "fixed": fixed,
        "config_file": config_file,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "members": [],
    }
    shares_reference = not (set(grid) & REFERENCE_KEYS)
    print(
        f"sweep of {len(grid_members)} runs of {recipe} in {folder}"
        + ("; the members share one reference pass" if shares_reference else ""),
        flush=True,
    )
    for index, settings in enumerate(grid_members, start=1):
        member_dir = folder / member_name(index, settings)
        entry = {"name": member_dir.name, "dir": str(member_dir), "settings": settings}
        record["members"].append(entry)
        status = _status(member_dir)
        label = ", ".join(f"{k}={v}" for k, v in settings.items())
        if status in FINISHED:
            entry.update(status=status, skipped=True)
            print(f"\n== [{index}/{len(grid_members)}] {label}: {status} earlier, skipped ({member_dir})", flush=True)
            _write(folder, record)
            continue
        print(f"\n== [{index}/{len(grid_members)}] {label} -> {member_dir}", flush=True)
        overrides = [*fixed, *(f"{k}={v}" for k, v in settings.items()), f"output_dir={member_dir}"]
        resume = status == "interrupted"
        started = time.monotonic()
        remaining = len(grid_members) - index + 1 if shares_reference else 1
        try:
            with refcache.expected_runs(remaining):
                run = api.run(
                    recipe,
                    *overrides,
                    demo=demo,
                    resume=resume,
                    overwrite=not resume and member_dir.exists(),
                    config_file=config_file,
                )
            entry["status"] = _status(run.dir) or "completed"
            if evaluate and entry["status"] == "completed":
                entry["eval"] = _evaluate(run.dir)
        except KeyboardInterrupt:
            entry.update(status="interrupted", error="interrupted")
            _write(folder, record)
            raise
        except Exception as err:  # one member's failure (bad data, NaN, a bug) must not stop the others
            entry.update(status=_status(member_dir) or "failed", error=f"{type(err).__name__}: {err}".splitlines()[0])
            print(f"!! member {member_dir.name} failed: {entry['error']}", flush=True)
        entry["wall_s"] = round(time.monotonic() - started, 1)
        _write(folder, record)
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = [table_row(Path(m["dir"]), m["settings"], m.get("status"), m.get("error")) for m in record["members"]]
    record["table"] = rows
    _write(folder, record)
    print("\n" + format_table(rows, list(grid)))
    done = [Path(m["dir"]) for m in record["members"] if (Path(m["dir"]) / "metrics.jsonl").is_file()]
    if done:
        print(f"plot: {plot_runs(done, folder / PLOT_FILE, labels=[Path(d).name for d in done])}")
    print(f"sweep record: {folder / SWEEP_FILE}")
    return record


def _evaluate(run_dir: Path) -> str:
    """Held-out evaluation of a finished member into its eval.json (the table's eval columns)."""
    from trlrecipes.tools.evaluate import evaluate_run, save_metrics

    try:
        save_metrics(run_dir, evaluate_run(run_dir))
    except UserError as err:  # e.g. a run without held-out data: the table shows the training columns only
        return f"not evaluated: {err}"
    return "eval.json"


def _write(folder: Path, record: dict) -> None:
    (folder / SWEEP_FILE).write_text(json.dumps(record, indent=2) + "\n")


# --- the table ------------------------------------------------------------------------------------------------
def _end(summary: dict, kind: str, name: str):
    value = (summary.get(kind) or {}).get(name)
    return value.get("end") if isinstance(value, dict) else None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def win_rate(result: dict | None):
    """The judged-generation win rate of an eval.json, where the evaluation wrote one."""
    if not isinstance(result, dict):
        return None
    for holder in (result, result.get("generation"), result.get("judge")):
        if isinstance(holder, dict) and isinstance(holder.get("win_rate"), (int, float)):
            return holder["win_rate"]
    return None


def table_row(run_dir: Path, settings: dict, status: str | None = None, error: str | None = None) -> dict:
    summary = _read_json(run_dir / "summary.json") or {}
    result = _read_json(run_dir / "eval.json")
    held_out = isinstance(result, dict) and "accuracy" in result
    return {
        "run": run_dir.name,
        "dir": str(run_dir),
        "settings": settings,
        "status": status or _status(run_dir) or "-",
        "steps": summary.get("steps"),
        "train_margin": _end(summary, "train", "margin"),
        "train_accuracy": _end(summary, "train", "accuracy"),
        "eval_margin": result.get("margin") if held_out else _end(summary, "eval", "margin"),
        "eval_accuracy": result["accuracy"] if held_out else _end(summary, "eval", "accuracy"),
        "eval_source": "eval.json"
        if held_out
        else ("summary.json" if _end(summary, "eval", "accuracy") is not None else None),
        "verdicts": summary.get("verdicts") or [],
        "win_rate": win_rate(result),
        "error": error,
    }


def format_table(rows: list[dict], keys: list[str]) -> str:
    def number(value, width):
        return f"{value:>{width}.3f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

    setting_width = {
        key: max(len(key.removeprefix("trl.")), *(len(str(r["settings"].get(key, ""))) for r in rows)) for key in keys
    }
    header = "  ".join(f"{key.removeprefix('trl.'):<{setting_width[key]}}" for key in keys)
    lines = [
        f"{header}  {'status':<11}{'steps':>6}{'train margin':>14}{'train acc':>11}{'eval margin':>13}"
        f"{'eval acc':>10}{'win rate':>10}  verdicts"
    ]
    for row in rows:
        cells = "  ".join(f"{str(row['settings'].get(key, '')):<{setting_width[key]}}" for key in keys)
        steps = row["steps"] if row["steps"] is not None else "-"
        verdicts = ", ".join(row["verdicts"]) or "none"
        if row.get("error"):
            verdicts += f"  ({row['error'][:60]})"
        lines.append(
            f"{cells}  {row['status']:<11}{steps:>6}{number(row['train_margin'], 14)}"
            f"{number(row['train_accuracy'], 11)}{number(row['eval_margin'], 13)}"
            f"{number(row['eval_accuracy'], 10)}{number(row['win_rate'], 10)}  {verdicts}"
        )
    if any(row["eval_source"] == "summary.json" for row in rows):
        lines.append(
            "eval columns: held-out evaluation (eval.json) where present, else the last evaluation "
            "during training (summary.json)"
        )
    return "\n".join(lines)


# --- compare --------------------------------------------------------------------------------------------------
def differing_settings(run_dirs: list[Path]) -> tuple[list[dict], list[str]]:
    """Each run's settings that differ between the runs (from config.yaml; output_dir left out)."""
    import yaml

    configs = []
    for run_dir in run_dirs:
        path = run_dir / "config.yaml"
        try:
            configs.append(yaml.safe_load(path.read_text()) or {} if path.is_file() else {})
        except yaml.YAMLError:
            configs.append({})
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for c in flat for k in c if k != "output_dir"})
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in flat}) > 1]
    return [{k: c.get(k) for k in differing} for c in flat], differing


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if key == "trl" and isinstance(value, dict) and not prefix:
            out.update(_flatten(value, "trl."))
        else:
            out[prefix + key] = value
    return out


def compare(run_dirs: list[Path], out: Path) -> list[dict]:
    for run_dir in run_dirs:
        if not (run_dir / "metrics.jsonl").is_file():
            raise UserError(f"{run_dir}: no metrics.jsonl; point to run folders written by `trlrecipes run`")
    settings, keys = differing_settings(run_dirs)
    rows = [table_row(run_dir, s) for run_dir, s in zip(run_dirs, settings, strict=True)]
    if not keys:
        keys, rows = ["run"], [{**row, "settings": {"run": row["run"]}} for row in rows]
    print(format_table(rows, keys))
    labels = [", ".join(f"{k.removeprefix('trl.')}={row['settings'].get(k)}" for k in keys) for row in rows]
    if len(set(labels)) < len(labels):
        labels = [str(d) for d in run_dirs]
    print(f"plot: {plot_runs(run_dirs, out, labels=labels)}")
    return rows


OVERLAY = [
    ("loss (train solid, eval dashed)", ["loss"]),
    ("reward margin", ["rewards/margins"]),
    ("reward accuracy", ["rewards/accuracies"]),
    ("rewards: chosen solid/dashed, rejected dotted/dash-dot", ["rewards/chosen", "rewards/rejected"]),
]


def plot_runs(run_dirs: list[Path], out: Path, *, labels: list[str]) -> Path:
    """One figure, four panels; a colour per run, training solid, evaluation during training dashed (rejected
    rewards: dotted for training, dash-dot for evaluation)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from trlrecipes.monitor.plot import _series, log_kind, read_metrics

    fig = Figure(figsize=(12, 8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(2, 2).flat)
    for index, (run_dir, label) in enumerate(zip(run_dirs, labels, strict=True)):
        records = read_metrics(Path(run_dir) / "metrics.jsonl")
        colour = f"C{index % 10}"
        for ax, (_, keys) in zip(axes, OVERLAY, strict=True):
            for key, style, eval_style in zip(keys, ("-", ":"), ("--", "-."), strict=False):
                for kind, prefix, dash in (("train", "", style), ("eval", "eval_", eval_style)):
                    picked = [r for r in records if log_kind(r) == kind]
                    steps, values = _series(picked, prefix + key)
                    if steps:
                        ax.plot(
                            steps,
                            values,
                            dash,
                            color=colour,
                            marker="o" if len(steps) < 30 else None,
                            markersize=3,
                            label=label if key == keys[0] and kind == "train" else None,
                        )
    for ax, (title, _) in zip(axes, OVERLAY, strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
