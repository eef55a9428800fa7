"""Read a run's metrics.jsonl and draw metrics.png: loss, reward margin, accuracy, chosen/rejected rewards for a
preference run; reward, completion length, cut/no-signal shares and entropy for an online run (GRPO, RLOO), whose
loss sits near 0 by construction (monitor/online.py).

Kept free of torch/transformers imports so `trlrecipes plot RUN_DIR` starts fast; matplotlib is imported
inside `plot_metrics` and used through its Agg canvas only (no pyplot, no display needed).
"""

from __future__ import annotations

import json
from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.monitor.online import CLIPPED, ENTROPY, KL, LENGTH, REWARD, REWARD_STD, ZERO_STD, is_online

# (panel title, [(metric key, legend label, line style, colour)]): train solid, eval dashed.
PANELS = [
    ("loss", [("loss", "train", "-", "C0"), ("eval_loss", "eval", "--", "C1")]),
    # a reward model logs its own margin/accuracy; SFT logs its token accuracy (the share of top-1 reply tokens)
    (
        "reward margin",
        [
            ("rewards/margins", "train", "-", "C0"),
            ("eval_rewards/margins", "eval", "--", "C1"),
            ("margin", "train", "-", "C0"),
            ("eval_margin", "eval", "--", "C1"),
        ],
    ),
    (
        "reward accuracy",
        [
            ("rewards/accuracies", "train", "-", "C0"),
            ("eval_rewards/accuracies", "eval", "--", "C1"),
            ("accuracy", "train", "-", "C0"),
            ("eval_accuracy", "eval", "--", "C1"),
            ("mean_token_accuracy", "train token accuracy", "-", "C4"),
            ("eval_mean_token_accuracy", "eval token accuracy", "--", "C4"),
        ],
    ),
    (
        "chosen / rejected rewards",
        [
            ("rewards/chosen", "chosen", "-", "C2"),
            ("rewards/rejected", "rejected", "-", "C3"),
            ("eval_rewards/chosen", "eval chosen", "--", "C2"),
            ("eval_rewards/rejected", "eval rejected", "--", "C3"),
        ],
    ),
]
CHANCE_ACCURACY = 0.5  # a coin flip between chosen and rejected
# An online run (TRL's GRPOTrainer / RLOOTrainer logs, monitor/online.py): the reward with its batch spread as a band
# and each reward function's own mean, then what explains it. Per-function keys are added from the logs themselves.
ONLINE_PANELS = [
    ("reward", [(REWARD, "train (band: ±std)", "-", "C0"), (f"eval_{REWARD}", "eval", "--", "C1")]),
    ("completion length (tokens)", [(LENGTH, "mean", "-", "C0"), (f"eval_{LENGTH}", "eval mean", "--", "C1")]),
    (
        "shares of the batch",
        [
            (CLIPPED, "cut at max_completion_length", "-", "C3"),
            (ZERO_STD, "groups with one reward for all (no signal)", "-", "C7"),
        ],
    ),
    ("entropy / KL (nats per token)", [(ENTROPY, "entropy", "-", "C2"), (KL, "KL to the reference", "-", "C4")]),
]


def log_kind(logs: dict) -> str:
    """'eval' for an evaluation log, 'train' for a training-step log, 'other' (e.g. the final train_runtime log)."""
    if any(key.startswith("eval_") for key in logs):
        return "eval"
    return "train" if "loss" in logs else "other"


def read_metrics(path: Path, *, dedupe: bool = True) -> list[dict]:
    """Records of a metrics.jsonl; unreadable lines (a write cut short by a crash) are skipped.

    With `dedupe`, a step logged twice (a resumed run redoing steps) keeps its latest record per kind.
    """
    records = []
    # Undecodable bytes become U+FFFD, so such a line is skipped like any unreadable one; a file that is not text at
    # all has no record left (plot_metrics says so).
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    if not dedupe:
        return records
    latest = {(record["step"], log_kind(record)): record for record in records}
    return sorted(latest.values(), key=lambda record: record["step"])


def _is_text(path: Path) -> bool:
    try:
        Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [step for step, _ in points], [value for _, value in points]


def panels_for(records: list[dict]) -> list:
    """The four panels for these logs: the online ones (with a line per reward function) when any log is a GRPO or
    RLOO log, else the preference ones."""
    if not any(is_online(record) for record in records):
        return PANELS
    functions = sorted(
        {key for record in records for key in record if key.startswith("rewards/") and key.endswith("/mean")}
    )
    styles = (
        [(key, key.split("/")[1], ":", f"C{3 + i % 6}") for i, key in enumerate(functions)]
        if len(functions) > 1
        else []
    )
    title, series = ONLINE_PANELS[0]
    return [(title, series + styles), *ONLINE_PANELS[1:]]


def plot_metrics(metrics_jsonl: Path, out_png: Path) -> Path:
    """Draw the four training panels from `metrics_jsonl` into `out_png`; returns `out_png`."""
    metrics_jsonl, out_png = Path(metrics_jsonl), Path(out_png)
    if not metrics_jsonl.is_file():
        raise UserError(f"no metrics file at {metrics_jsonl}: point to a run directory written by a training run")
    records = read_metrics(metrics_jsonl)
    if not records and not _is_text(metrics_jsonl):
        raise UserError(
            f"{metrics_jsonl} is not a text file of JSON lines; point to a run folder whose metrics.jsonl "
            f"a training run wrote"
        )
    panels = panels_for(records)
    keys = {key for _, series in panels for key, *_ in series}
    if not any(_series(records, key)[0] for key in keys):
        raise UserError(
            f"{metrics_jsonl} has no loss or reward metrics to plot (was the run stopped before its first log?)"
        )

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (title, series) in zip(fig.subplots(2, 2).flat, panels, strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        drawn = []
        for key, label, style, colour in series:
            steps, values = _series(records, key)
            if steps:
                marker = "o" if len(steps) < 30 else None
                ax.plot(steps, values, style, color=colour, marker=marker, markersize=3, label=label)
                drawn.append(key)
                if key == REWARD:  # the batch's spread around the mean reward
                    spread = dict(zip(*_series(records, REWARD_STD), strict=True))
                    band = [
                        (step, value, spread[step])
                        for step, value in zip(steps, values, strict=True)
                        if step in spread
                    ]
                    if band:
                        x, mean, std = zip(*band, strict=True)
                        low = [m - d for m, d in zip(mean, std, strict=True)]
                        high = [m + d for m, d in zip(mean, std, strict=True)]
                        ax.fill_between(x, low, high, color=colour, alpha=0.15, linewidth=0)
        if title == "reward accuracy" and any("token" not in key for key in drawn):  # token accuracy has no chance
            ax.axhline(CHANCE_ACCURACY, color="grey", linewidth=0.8, linestyle=":", label="chance")
        if drawn:
            ax.legend(fontsize="small")
            ax.grid(alpha=0.3)
        else:
            ax.text(0.5, 0.5, "not logged by this trainer", ha="center", va="center", transform=ax.transAxes)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    import io

    from trlrecipes import files

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return files.write_bytes(out_png, buffer.getvalue())  # atomic, and never through a link planted at out_png
