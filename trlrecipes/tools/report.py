"""`trlrecipes report RUN_DIR [RUN_DIR ...]`: one self-contained report.html of one run, or a comparison of several.

A run's story is spread over its folder (config.yaml, run.json, data_summary.json, metrics.jsonl, verdicts.json,
summary.json, eval.json, eval_generations.jsonl or the demo's demo_answers.jsonl); the report puts it on one page:
what was run, what the data conversion kept and why it skipped rows, the curves, the verdicts with cause and fix,
the held-out evaluation, and answers before and after training side by side. Several runs get a comparison table
(settings that differ, final figures) and overlaid curves first.

The page needs nothing from the network: the plots are PNGs embedded as base64 (matplotlib's Agg canvas, as
metrics.png), the CSS is inline, there is no script. It reads on a laptop screen and prints (A4/Letter portrait).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import yaml

from trlrecipes.errors import UserError
from trlrecipes.run.record import CONFIG, DEMO_ANSWERS, GENERATIONS, METRICS, RunRecord

REPORT_FILE = "report.html"
GENERATIONS_FILES = (GENERATIONS, DEMO_ANSWERS)  # the first one present is shown
# Settings shown first in the comparison table; any other key that differs between the runs follows.
KEY_SETTINGS = (
    "model",
    "dataset",
    "loss_type",
    "beta",
    "learning_rate",
    "lora_r",
    "max_length",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
)
IGNORED_DIFFERENCES = {"output_dir"}
EVAL_COLUMNS = (
    ("accuracy", "accuracy"),
    ("ties", "ties"),
    ("margin", "margin"),
    ("chosen_reward", "chosen"),
    ("rejected_reward", "rejected"),
    ("win_rate", "win rate"),
    ("base_accuracy", "base accuracy"),
    ("mean_log_odds_ratio", "log odds ratio"),
    ("base_mean_log_odds_ratio", "base log odds ratio"),
)

CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --soft: #f4f6f9; --good: #1a7f37; --bad: #b42318;
        --warn: #9a6700; --accent: #2251a3; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.run { margin-top: 36px; }
.run > h2 { font-size: 22px; border-bottom-color: var(--accent); }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.differs td { background: #fff8e1; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 150px;
        background: var(--soft); }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 13px; }
.status-completed { color: var(--good); } .status-failed, .status-diverged { color: var(--bad); }
.status-interrupted, .status-running { color: var(--warn); }
.verdict { border-left: 4px solid var(--bad); background: #fdf3f2; padding: 8px 12px; margin: 8px 0;
           border-radius: 0 6px 6px 0; }
.verdict p { margin: 3px 0; }
.ok { border-left: 4px solid var(--good); background: #f0f8f2; padding: 8px 12px; border-radius: 0 6px 6px 0; }
img.plot { width: 100%; max-width: 1060px; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.answers { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin: 6px 0 16px; }
.answer { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; white-space: pre-wrap;
          font-size: 14px; }
.answer.before { background: var(--soft); } .answer.after { background: #f0f5ff; }
.answer h4 { margin: 0 0 4px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.prompt { font-weight: 600; margin: 14px 0 4px; white-space: pre-wrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.hash { word-break: break-all; }
details summary { cursor: pointer; color: var(--accent); }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
@media (max-width: 760px) { .answers { grid-template-columns: 1fr; } main { padding: 14px; } }
@media print {
  body { font-size: 11pt; } main { max-width: none; padding: 0; }
  .run { break-before: page; } .run:first-of-type { break-before: auto; }
  .verdict, .answers, table, img.plot, .card { break-inside: avoid; }
  details { display: block; } details > summary { display: none; }
  a { color: inherit; text-decoration: none; }
}
"""


class Html(str):
    """Markup this module wrote itself. Every other value that reaches the page goes through `_e`, the one place
    text is escaped (a prompt, a reply, a file name or a data summary value may hold "<script>")."""


def _e(value) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def _num(value, digits: int = 3) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    return str(value)


class RunFolder:
    """Everything the report reads from one run folder (missing files read as empty)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.record = record = RunRecord(self.path)
        config_path = record.path(CONFIG)
        if not config_path.is_file():
            raise UserError(
                f"{self.path}: not a trlrecipes run folder (no {CONFIG}); pass the folder "
                f"a run wrote (runs/<recipe>-<date>-<time>)"
            )
        try:
            self.config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise UserError(f"{config_path}: not valid YAML ({str(err).splitlines()[0]})") from err
        if not isinstance(self.config, dict):
            raise UserError(f"{config_path}: holds no config mapping; restore the file the run wrote")
        self.info = record.info()
        self.data = record.data_summary()
        self.summary = record.summary()
        self.verdicts = record.verdicts()
        self.eval = record.evaluation() or None
        metrics = record.path(METRICS)
        if metrics.is_file():
            from trlrecipes.monitor.plot import read_metrics

            self.metrics = read_metrics(metrics)
        else:
            self.metrics = []
        self.generations, self.generations_file = [], None
        for name in GENERATIONS_FILES:
            rows = record.rows(name)
            if rows:
                self.generations, self.generations_file = rows, name
                break

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def method(self) -> str:
        return self.record.method

    def last(self, key: str):
        values = [r[key] for r in self.metrics if isinstance(r.get(key), (int, float))]
        return values[-1] if values else None


# --- plots ----------------------------------------------------------------------------------------------------
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def run_plot(run: RunFolder) -> str | None:
    """The four training panels of metrics.png (same drawing), as a data URI."""
    if not run.metrics:
        return None
    import tempfile

    from trlrecipes.monitor.plot import plot_metrics

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = plot_metrics(run.record.path(METRICS), Path(tmp) / "metrics.png")
        except UserError:
            return None
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def comparison_plot(runs: list[RunFolder]) -> str | None:
    """Reward margin and accuracy of every run on shared axes (train solid, eval dashed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("reward margin", "rewards/margins"), ("reward accuracy", "rewards/accuracies"), ("loss", "loss")]
    if not any(run.metrics for run in runs):
        return None
    online = [any("reward" in r for r in run.metrics) for run in runs]
    if all(online):  # GRPO/RLOO runs: their reward, how long their replies are and how many stop at the cap
        panels = [("reward", "reward"), ("completion length", "completions/mean_length"),
                  ("cut at the cap", "completions/clipped_ratio")]  # fmt: skip
    fig = Figure(figsize=(11.5, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (title, key) in zip(fig.subplots(1, 3).flat, panels, strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        for index, run in enumerate(runs):
            for prefix, style in (("", "-"), ("eval_", "--")):
                points = [
                    (r["step"], r[prefix + key]) for r in run.metrics if isinstance(r.get(prefix + key), (int, float))
                ]
                if points:
                    ax.plot(
                        *zip(*points, strict=True),
                        style,
                        color=f"C{index}",
                        marker="o" if len(points) < 30 else None,
                        markersize=3,
                        label=run.name + (" (eval)" if prefix else ""),
                    )
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize="x-small")
    return _png(fig)


# --- sections -------------------------------------------------------------------------------------------------
def _table(header: list[str] | None, rows: list[list], numeric_from: int = 1, classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header or [])
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{_e(_num(c))}</td>'
            if j >= numeric_from and isinstance(c, (int, float))
            else f"<td>{_e(_num(c))}</td>"
            for j, c in enumerate(row)
        )
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _cards(run: RunFolder) -> str:
    status = run.info.get("status", "unknown")
    steps = run.info.get("global_step", run.summary.get("steps"))
    items = [
        (f'<b class="status-{_e(status)}">{_e(status)}</b>', "status"),
        (f"<b>{_e(run.method)}</b>", "method"),
        (f"<b>{_e(steps if steps is not None else '-')}</b>", "steps"),
    ]
    evaluated = run.eval if isinstance(run.eval, dict) else {}
    if isinstance(evaluated.get("accuracy"), (int, float)):
        items.append((f"<b>{_num(evaluated['accuracy'])}</b>", "held-out accuracy"))
    if isinstance(evaluated.get("margin"), (int, float)):
        items.append((f"<b>{_num(evaluated['margin'])}</b>", "held-out margin"))
    if isinstance(evaluated.get("win_rate"), (int, float)):
        items.append((f"<b>{_num(evaluated['win_rate'])}</b>", "win rate"))
    items.append((f"<b>{len(run.verdicts)}</b>", "verdicts"))
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{value}<span>{label}</span></div>' for value, label in items)
        + "</div>"
    )


def _overview(run: RunFolder) -> str:
    versions = run.info.get("versions") or {}
    rows = [
        ["recipe", run.info.get("recipe", run.name)],
        ["base model", run.config.get("model", "-")],
        ["dataset", run.config.get("dataset", "-")],
        ["started", run.info.get("started", "-")],
    ]
    if run.info.get("command"):
        rows.append(["command", run.info["command"]])
    shown = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    if shown:
        rows.append(["software", shown])
    return _table(None, rows, numeric_from=99)


def _verdicts(run: RunFolder) -> str:
    if not run.verdicts:
        return (
            '<div class="ok">No verdict: the training-health monitor saw none of its failure patterns '
            "(no learning, both rewards falling, chosen log-probabilities collapsing, eval plateau, overfitting, "
            "non-finite loss).</div>"
        )
    return "".join(_verdict_box(v) for v in run.verdicts if isinstance(v, dict))


def _verdict_box(v: dict) -> str:
    """A verdict with its cause and fix (a training verdict names its step)."""
    step = f" at step {_e(v['step'])}" if "step" in v else ""
    return (
        f'<div class="verdict"><p><b>{_e(v.get("code", "verdict"))}</b>{step}: {_e(v.get("message", ""))}</p>'
        f"<p><b>cause:</b> {_e(v.get('cause', ''))}</p><p><b>fix:</b> {_e(v.get('fix', ''))}</p></div>"
    )


def _data(run: RunFolder) -> str:
    if not run.data:
        return "<p>No data_summary.json in this run folder.</p>"
    explanations = {}
    try:
        from trlrecipes.data import explanations as explain
        from trlrecipes.data import get_format

        explanations = explain(get_format(run.config.get("data_format", "")))
    except (UserError, ImportError, KeyError):
        pass
    parts = []
    rows = []
    for name, part in run.data.items():
        if not isinstance(part, dict):
            continue
        skipped = part.get("skipped") or {}
        rows.append(
            [
                name,
                part.get("source", "-"),
                part.get("read", "-"),
                part.get("converted", "-"),
                sum(skipped.values()) if "read" in part else "-",
                part.get("used", "-"),
            ]
        )
    parts.append(_table(["part", "source", "rows read", "converted", "skipped", "used"], rows, numeric_from=2))
    for name, part in run.data.items():
        if not isinstance(part, dict):
            continue
        reasons = sorted((part.get("skipped") or {}).items(), key=lambda kv: -kv[1])
        notes = sorted((part.get("notes") or {}).items(), key=lambda kv: -kv[1])
        if reasons or notes:
            table_rows = [[f"skipped: {reason}", count, explanations.get(reason, "")] for reason, count in reasons]
            table_rows += [[f"noted: {note}", count, explanations.get(note, "")] for note, count in notes]
            parts.append(
                f"<h3>{_e(name)}: skip reasons and notes</h3>"
                + _table(["decision", "rows", "why"], table_rows, numeric_from=1)
            )
        extra = []
        if part.get("held_out"):
            extra.append(
                f"{part['held_out']} pairs held out (share {part.get('eval_share')}, seed {part.get('seed')})"
            )
        if part.get("held_out_for_eval"):
            extra.append(f"{part['held_out_for_eval']} converted pairs held out for evaluation")
        if part.get("sampled_with_seed") is not None:
            extra.append(f"a random sample (seed {part['sampled_with_seed']})")
        if part.get("sha256"):
            extra.append(Html(f'sha256 of the converted rows <span class="mono hash">{_e(part["sha256"])}</span>'))
        if extra:
            parts.append(f"<p><b>{_e(name)}:</b> " + "; ".join(_e(x) for x in extra) + "</p>")
    return "".join(parts)


def _evaluation(run: RunFolder) -> str:
    parts = []
    summary_rows = []
    for kind in ("train", "eval"):
        for name, values in (run.summary.get(kind) or {}).items():
            if isinstance(values, dict):
                summary_rows.append([kind, name, values.get("start"), values.get("end")])
    if summary_rows:
        parts.append(
            "<h3>During training (first and last log)</h3>"
            + _table(["", "metric", "start", "end"], summary_rows, numeric_from=2)
        )
    evaluated = run.eval if isinstance(run.eval, dict) else None
    if evaluated:
        columns = [(key, label) for key, label in EVAL_COLUMNS if isinstance(evaluated.get(key), (int, float))]
        rows = [["trained"] + [evaluated[key] for key, _ in columns]]
        if "margin" in evaluated:  # the reference is the model with its adapter off: its rewards are 0 by definition
            rows.insert(
                0,
                ["reference"]
                + [
                    1.0
                    if key == "ties"
                    else 0.0
                    if key in ("accuracy", "margin", "chosen_reward", "rejected_reward")
                    else ""
                    for key, _ in columns
                ],
            )
        parts.append(
            f"<h3>Held-out evaluation after training ({_e(evaluated.get('pairs', '?'))} pairs"
            + (f", {_e(evaluated['data'])}" if evaluated.get("data") else "")
            + ")</h3>"
            + _table([""] + [label for _, label in columns], rows)
            + (f"<p class='sub'>criterion: {_e(evaluated['criterion'])}</p>" if evaluated.get("criterion") else "")
        )
    judged = evaluated.get("generation") if evaluated else None
    if isinstance(judged, dict):
        parts.append(_judged(judged))
    bench = evaluated.get("bench") if evaluated else None
    if isinstance(bench, dict) and isinstance(bench.get("rows"), list):
        parts.append(_bench(bench))
    if not parts:
        return "<p>No evaluation recorded (run <code>trlrecipes eval RUN_DIR</code>).</p>"
    return "".join(parts)


def _bench(bench: dict) -> str:
    """eval --bench: each task metric for the reference and the trained model, the difference and its standard
    error, the verdict."""
    rows = [
        [f"{row.get('task')} {row.get('metric')}", row.get("reference"), row.get("trained"), row.get("difference"),
         row.get("stderr") if row.get("stderr") is not None else "-", row.get("verdict", "")]
        for row in bench["rows"]
        if isinstance(row, dict)
    ]  # fmt: skip
    parts = [
        f"<h3>Benchmarks ({_e(bench.get('harness', 'lm-eval'))}): reference (adapter off) vs trained</h3>",
        _table(["task / metric", "reference", "trained", "difference", "stderr", "verdict"], rows),
    ]
    parts += [_verdict_box(verdict) for verdict in bench.get("verdicts") or [] if isinstance(verdict, dict)]
    return "".join(parts)


def _interval(value) -> str:
    return f"[{_num(value[0])}, {_num(value[1])}]" if isinstance(value, list) and len(value) == 2 else "-"


def _judged(judged: dict) -> str:
    """Every figure `eval --generate` wrote: win rate and length control with intervals, lengths, cut replies,
    verdicts, and for a 0/1 judge the paired accuracies, their difference and the per-kind table."""
    title = (
        f"<h3>Judged generations ({_e(judged.get('prompts', '?'))} prompts x {_e(judged.get('samples', 1))}, "
        f"{_e(judged.get('decoding', ''))}; judge {_e(judged.get('judge', '?'))})</h3>"
    )
    rows = [
        [
            side,
            judged.get(f"{side}_score_mean"),
            _interval(judged.get(f"{side}_score_ci95")),
            judged.get(f"{side}_tokens_mean"),
            judged.get(f"{side}_cut_share"),
        ]
        for side in ("reference", "trained")
    ]
    table = _table(["", "mean score", "95% interval", "reply tokens", "cut at the cap"], rows)
    lines = [
        f"{judged.get('wins', '?')} wins, {judged.get('ties', '?')} ties, {judged.get('losses', '?')} losses: "
        f"win rate {_num(judged.get('win_rate', '-'))} {_interval(judged.get('win_rate_ci95'))} (ties count half), "
        f"length-controlled {_num(judged.get('lc_win_rate', '-'))} {_interval(judged.get('lc_win_rate_ci95'))}"
    ]
    paired = judged.get("paired")
    if isinstance(paired, dict):
        lines.append(
            f"verifier accuracy {_num(paired.get('reference_accuracy', '-'))} -> "
            f"{_num(paired.get('trained_accuracy', '-'))}, difference {_num(paired.get('accuracy_difference', '-'))} "
            f"{_interval(paired.get('accuracy_difference_ci95'))} ({paired.get('verdict', '')}); passed by the "
            f"trained reply only on {paired.get('only_trained_passed', '?')} prompts, by the reference only on "
            f"{paired.get('only_reference_passed', '?')}"
            + (f", McNemar exact p = {paired['mcnemar_p']:.3g}" if isinstance(paired.get("mcnemar_p"), float) else "")
        )
    parts = [title, table] + [f"<p>{_e(line)}</p>" for line in lines]
    per_kind = (paired or {}).get("per_category") if isinstance(paired, dict) else None
    if isinstance(per_kind, dict) and per_kind:
        kind_rows = [
            [name, row.get("n"), row.get("reference"), row.get("trained"), _interval(row.get("difference_ci95"))]
            for name, row in per_kind.items()
            if isinstance(row, dict)
        ]
        parts.append(_table(["kind", "prompts", "reference", "trained", "95% interval of the difference"], kind_rows))
    parts += [_verdict_box(verdict) for verdict in judged.get("verdicts") or [] if isinstance(verdict, dict)]
    return "".join(parts)


def _answer_box(row: dict, kind: str, key: str, label: str) -> str:
    score = row.get(f"{key}_score")
    score_text = f" · score {_num(score)}" if isinstance(score, (int, float)) else ""
    return f'<div class="answer {kind}"><h4>{label}{score_text}</h4>{_e(row.get(key) or "(empty)")}</div>'


def _answers(run: RunFolder) -> str:
    if not run.generations:
        return (
            "<p>No answers recorded: <code>trlrecipes run RECIPE --demo</code> records its before/after answers "
            "(demo_answers.jsonl); judged generations go to eval_generations.jsonl.</p>"
        )
    parts = [f"<p class='sub'>from {_e(run.generations_file)}</p>"]
    for row in run.generations:
        prompt = row.get("prompt", "")
        if isinstance(prompt, list):  # a message list
            prompt = "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in prompt if isinstance(m, dict))
        parts.append(
            f'<p class="prompt">{_e(prompt)}</p><div class="answers">'
            + _answer_box(row, "before", "reference", "reference (before)")
            + _answer_box(row, "after", "trained", "trained (after)")
            + "</div>"
        )
    return "".join(parts)


def _settings(run: RunFolder) -> str:
    rows = []
    for key, value in run.config.items():
        if key == "trl" and isinstance(value, dict):
            rows += [[f"trl.{k}", v] for k, v in value.items()]
        else:
            rows.append([key, value])
    return (
        "<details open><summary>config.yaml (resolved)</summary>"
        + _table(["setting", "value"], rows, numeric_from=1)
        + "</details>"
    )


def run_section(run: RunFolder, *, heading: bool = True) -> str:
    plot = run_plot(run)
    figure = (
        f'<img class="plot" alt="training curves of {_e(run.name)}" src="{plot}">'
        if plot
        else "<p>No metrics logged.</p>"
    )
    title = f"<h2>{_e(run.name)}</h2>" if heading else ""
    return (
        f'<section class="run" id="{_e(run.name)}">{title}'
        f'<p class="sub">{_e(run.path)}</p>{_cards(run)}{_overview(run)}'
        f"<h3>Verdicts</h3>{_verdicts(run)}"
        f"<h3>Curves</h3>{figure}"
        f"<h3>Evaluation</h3>{_evaluation(run)}"
        f"<h3>Answers before and after</h3>{_answers(run)}"
        f"<h3>Data</h3>{_data(run)}"
        f"<h3>Settings</h3>{_settings(run)}</section>"
    )


def comparison_section(runs: list[RunFolder]) -> str:
    flat = []
    for run in runs:
        values = {k: v for k, v in run.config.items() if k != "trl"}
        values.update({f"trl.{k}": v for k, v in (run.config.get("trl") or {}).items()})
        flat.append(values)
    keys = list(KEY_SETTINGS) + sorted({k for values in flat for k in values} - set(KEY_SETTINGS))
    rows, classes = [], []
    for key in keys:
        cells = [values.get(key, "-") for values in flat]
        differs = len({json.dumps(c, sort_keys=True, default=str) for c in cells}) > 1
        if key in KEY_SETTINGS or (differs and key not in IGNORED_DIFFERENCES):
            rows.append([key] + cells)
            classes.append("differs" if differs and key not in IGNORED_DIFFERENCES else "")
    results = [
        ["method"] + [run.method for run in runs],
        ["status"] + [run.info.get("status", "-") for run in runs],
        ["steps"] + [run.info.get("global_step", run.summary.get("steps", "-")) for run in runs],
    ]
    for label, key in (
        ("train margin (last)", "rewards/margins"),
        ("train accuracy (last)", "rewards/accuracies"),
        ("eval margin (last)", "eval_rewards/margins"),
        ("eval accuracy (last)", "eval_rewards/accuracies"),
    ):
        results.append([label] + [run.last(key) if run.last(key) is not None else "-" for run in runs])
    for key, label in EVAL_COLUMNS:
        if any(isinstance(run.eval, dict) and isinstance(run.eval.get(key), (int, float)) for run in runs):
            results.append(
                [f"held-out {label}"] + [run.eval.get(key, "-") if isinstance(run.eval, dict) else "-" for run in runs]
            )
    results.append(
        ["verdicts"]
        + [", ".join(v.get("code", "") for v in run.verdicts if isinstance(v, dict)) or "none" for run in runs]
    )
    plot = comparison_plot(runs)
    header = ["", *(run.name for run in runs)]
    return (
        "<section><h2>Comparison</h2>"
        + _table(header, results)
        + (f'<img class="plot" alt="curves of all runs" src="{plot}">' if plot else "")
        + "<h3>Settings (highlighted where the runs differ)</h3>"
        + _table(header, rows, classes=classes)
        + "</section>"
    )


def render(run_dirs: list[str | Path]) -> str:
    import trlrecipes

    runs = [RunFolder(Path(path)) for path in run_dirs]
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs compared"
    subtitle = (
        f"{runs[0].method} run of recipe {runs[0].info.get('recipe', runs[0].name)}"
        if len(runs) == 1
        else ", ".join(run.name for run in runs)
    )
    body = [f"<h1>{_e(title)}</h1><p class='sub'>{_e(subtitle)} · trlrecipes report</p>"]
    if len(runs) > 1:
        body.append(comparison_section(runs))
    body += [run_section(run, heading=len(runs) > 1) for run in runs]
    body.append(
        f"<footer>written by trlrecipes {trlrecipes.__version__} (<code>trlrecipes report</code>) from the "
        f"files of each run folder; self-contained: no network access needed to view or print it.</footer>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} · trlrecipes report</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(run_dirs: list[str | Path], output: str | Path | None = None) -> Path:
    """Write the report; by default into the run folder (one run) or ./report.html (several)."""
    from trlrecipes import files
    from trlrecipes.paths import check_writable

    if not run_dirs:
        raise UserError("pass at least one run folder")
    target = Path(output) if output else (Path(run_dirs[0]) / REPORT_FILE if len(run_dirs) == 1 else Path(REPORT_FILE))
    if target.is_dir():
        target = target / REPORT_FILE
    check_writable(target, f"--output {target}" if output else str(target), folder=False)  # before the rendering
    page = render(run_dirs)
    target.parent.mkdir(parents=True, exist_ok=True)
    return files.write_text(target, page)
