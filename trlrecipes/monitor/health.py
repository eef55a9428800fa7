"""Explain a preference-training run while it happens, from what the trainer logs and nothing else.

`HealthMonitor` is pure: it is fed one log dict at a time and raises verdicts (a failure pattern, its likely
cause and a fix), each at most once per run. `TrainingHealthCallback` plugs it into a `transformers.Trainer`:
it appends every log event to `<output_dir>/metrics.jsonl`, prints one live line per event, prints and records
verdicts in `verdicts.json`, stops training on a non-finite loss, and at the end writes `summary.json` and
`metrics.png`.

Metric keys read (TRL 1.16; eval logs carry the same keys prefixed "eval_"):
  DPO/IPO  loss, rewards/{chosen,rejected,margins,accuracies}, logps/{chosen,rejected}   (rewards = beta * log-ratio)
  ORPO     the same, plus nll_loss, log_odds_ratio, log_odds_chosen        (rewards = beta * mean token logp)
  KTO      loss, kl, rewards/{chosen,rejected,margins}, logps/{chosen,rejected}   (no rewards/accuracies)
  SimPO    the DPO keys and nll_loss (CPOTrainer; rewards = beta * mean token logp, logps are per-token means)
  SFT      loss, mean_token_accuracy, entropy, num_tokens    (no preference keys: no preference verdict runs)
  RM       loss, accuracy, margin, {min,mean,max}_reward    (RewardTrainer: the reward model's own scores)
  GRPO/RLOO  reward, reward_std, frac_reward_zero_std, completions/{mean_length,clipped_ratio}, entropy, kl (beta != 0)
           (online RL: the verdicts, live line and start note for these are in online.py)
Any key may be missing; a check that lacks its keys simply does not run.
"""

from __future__ import annotations

import json
import math
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from transformers import TrainerCallback

from trlrecipes import files
from trlrecipes.errors import UserError
from trlrecipes.monitor import online
from trlrecipes.monitor.plot import log_kind, plot_metrics, read_metrics

LOSS, ACC, MARGIN = "loss", "rewards/accuracies", "rewards/margins"
CHOSEN, REJECTED, LOGPS_CHOSEN = "rewards/chosen", "rewards/rejected", "logps/chosen"
TOKEN_ACC = "mean_token_accuracy"  # SFT: share of reply tokens the model predicts as its top token

# Sigmoid DPO loss -log σ(β·margin) at zero margin (DPO paper, eq. 7): what the loss reads while the policy
# still equals the reference. Other losses start elsewhere (IPO: (1/(2β))²), so the callback takes it as an option.
LN2 = math.log(2)
# Reward accuracy counts pairs with chosen > rejected strictly: 0.5 is a coin flip.
CHANCE_ACCURACY = 0.5
# Binomial noise of one logged accuracy over 8–64 pairs is ±0.06–0.18 (sd 0.5/√n); 0.1 is "at chance".
CHANCE_BAND = 0.1
# |margin| below this is an exact tie: with LoRA and ref = base with adapters off, step 0 rewards are exactly 0.
TIE_EPS = 1e-6
# 5% of ln 2: -log σ(m) ≈ ln 2 − m/2, so a loss within 5% of ln 2 means a mean β-margin below ~0.07.
LOSS_AT_CHANCE_RTOL = 0.05
# Same 0.07 β-margin, used for KTO, which logs no accuracy.
FLAT_MARGIN = 0.07
# Practice: the first logs average over LR warm-up and the step-0 tie; judge "not learning" only after at least
# 5 train logs and 20% of max_steps.
WARMUP_MIN_LOGS, WARMUP_SHARE = 5, 0.2
# Consecutive logs a pattern must hold for, so one noisy batch raises nothing.
WINDOW = 3
# "Plateau around 0.55–0.60" with ±0.02 for eval noise; and no more than +0.02 gained over those evals.
PLATEAU_LOW, PLATEAU_HIGH, PLATEAU_MIN_GAIN = 0.53, 0.62, 0.02
# A β-scaled reward of −0.5 at β = 0.1 means the answer became e^5 ≈ 150× less likely than under the reference.
REWARD_DROP_MIN = 0.5
# "Accuracy ~1.0": at most one mis-ranked pair in 50.
OVERFIT_TRAIN_ACC = 0.98
# Train margin up ≥ 25% between two evals while the eval margin gains < 2% (or falls): the gap is not transferring.
OVERFIT_TRAIN_GROWTH, OVERFIT_EVAL_GROWTH = 0.25, 0.02
# Chosen sequence log-prob 50% below its start (e.g. −100 → −150 nats): the preferred answers themselves are
# being unlearned ("likelihood displacement"); the 1-nat floor ignores small moves of per-token averages (ORPO).
LOGPS_COLLAPSE_SHARE, LOGPS_COLLAPSE_MIN_NATS = 0.5, 1.0
# fp16 loss scaling skips steps with inf gradients and lowers the scale (torch.amp.GradScaler): a few in a row
# are normal; in bf16/fp32 a single non-finite grad_norm already means the weights are being corrupted.
GRAD_NORM_PATIENCE_FP16 = 3
# Keys whose non-finite value means the forward/backward pass broke. transformers' logging_nan_inf_filter
# replaces a NaN step's loss with the running mean, so the TRL reward/logp metrics are where a NaN shows.
FINITE_KEY_PARTS = ("loss", "rewards/", "logps/", "logits/", "log_odds", "kl")

NON_FINITE = "non_finite_loss"
# Tracker key of a verdict (1.0 at the step it was raised); trackers show it as train/verdicts/<code>.
TRACKER_PREFIX = "verdicts/"

# The SFT term the verdicts suggest: TRL's "sft" loss is the mean per-token NLL of the chosen reply, 2.37 nats at the
# start (SmolLM2-135M on real hh-rlhf pairs) against DPO's ln 2, so a weight of 0.2 (+0.47) anchors the chosen
# replies without turning the run into SFT (the hh-rpo preset's weight).
SFT_WEIGHT = 0.2
DEFAULT_ANCHOR = f"DPO: loss_type=sigmoid,sft loss_weights=1.0,{SFT_WEIGHT} (preset hh-rpo), or ORPO"


@dataclass
class Verdict:
    code: str
    step: int
    message: str
    cause: str
    fix: str


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value) -> bool:
    return not isinstance(value, (int, float)) or math.isfinite(value)


def _growth(old: float, new: float) -> float:
    return (new - old) / max(abs(old), 1e-8)


class HealthMonitor:
    """Feed it `observe(step, logs)` per log event; it returns the verdicts newly raised by that event."""

    def __init__(
        self,
        *,
        zero_margin_loss: float | None = LN2,
        max_steps: int = 0,
        grad_norm_patience: int = 1,
        anchor: str = DEFAULT_ANCHOR,
        reference_free: bool = False,
    ):
        self.zero_margin_loss = zero_margin_loss
        self.anchor = anchor  # the override that adds (or strengthens) an SFT term for this run's method
        self.reference_free = reference_free  # SimPO/ORPO: "raise beta" does not pull towards a reference there
        self.max_steps = max_steps
        self.grad_norm_patience = grad_norm_patience
        self.train: list[dict] = []
        self.evals: list[dict] = []
        self.raised: set[str] = set()
        self.last_finite_step: int | None = None
        self._bad_grad_norms = 0
        self.online = online.OnlineChecks()  # GRPO/RLOO verdicts; silent unless the logs carry online keys

    def observe(self, step: int, logs: dict) -> list[Verdict]:
        found = [self._non_finite(step, logs)]
        kind = log_kind(logs)
        point = {key: float(value) for key, value in logs.items() if _is_number(value)} | {"step": step}
        if kind == "train":
            if found[0] is None:
                self.last_finite_step = step
            self.train.append(point)
            found += [self._no_learning(step), self._both_rewards_falling(step), self._chosen_logps_collapse(step)]
            online_found = self.online.findings(self.train, self._past_warmup(step))
            found += [Verdict(code, step, *text) for code, *text in online_found]
        elif kind == "eval":
            point |= {"train_margin": self._last("train", MARGIN), "train_acc": self._train_acc_since_last_eval()}
            self.evals.append(point)
            found += [self._eval_plateau(step), self._overfitting(step)]
        new = [v for v in found if v is not None and v.code not in self.raised]
        self.raised.update(v.code for v in new)
        return new

    # -- helpers -------------------------------------------------------------------------------------------
    def _series(self, kind: str, key: str) -> list[float]:
        points = self.train if kind == "train" else self.evals
        prefix = "eval_" if kind == "eval" else ""
        return [p[prefix + key] for p in points if p.get(prefix + key) is not None]

    def _last(self, kind: str, key: str) -> float | None:
        values = self._series(kind, key)
        return values[-1] if values else None

    def _train_acc_since_last_eval(self) -> float | None:
        since = self.evals[-1]["step"] if self.evals else -1
        accs = [p[ACC] for p in self.train if ACC in p and p["step"] > since] or self._series("train", ACC)[-1:]
        return sum(accs) / len(accs) if accs else None

    def _past_warmup(self, step: int) -> bool:
        return len(self.train) >= WARMUP_MIN_LOGS and step >= WARMUP_SHARE * self.max_steps

    def _at_chance(self, point: dict) -> bool:
        acc, margin, loss = point.get(ACC), point.get(MARGIN), point.get(LOSS)
        tie = margin is not None and abs(margin) < TIE_EPS
        if acc is not None:
            chance = tie or abs(acc - CHANCE_ACCURACY) <= CHANCE_BAND
        elif margin is not None:
            chance = abs(margin) <= FLAT_MARGIN
        else:
            return False
        if "log_odds_ratio" in point:  # ORPO logs mean log σ(log odds): −ln 2 at zero log odds (ORPO paper, eq. 7)
            at_zero, loss = LN2, -point["log_odds_ratio"]
        elif "kl" in point or self.zero_margin_loss is None or loss is None:  # KTO: no fixed zero-margin loss
            return chance
        else:
            at_zero = self.zero_margin_loss
        return chance and abs(loss - at_zero) <= LOSS_AT_CHANCE_RTOL * abs(at_zero)

    # -- checks: each returns a Verdict or None ---------------------------------------------------------------
    def _non_finite(self, step: int, logs: dict) -> Verdict | None:
        bad = [k for k, v in logs.items() if any(p in k for p in FINITE_KEY_PARTS) and not _finite(v)]
        if "grad_norm" in logs:
            self._bad_grad_norms = 0 if _finite(logs["grad_norm"]) else self._bad_grad_norms + 1
            if self._bad_grad_norms >= self.grad_norm_patience:
                bad.append("grad_norm")
        if not bad:
            return None
        return Verdict(
            NON_FINITE,
            step,
            f"non-finite values at step {step}: " + ", ".join(f"{k}={logs[k]}" for k in bad),
            "The loss or gradients overflowed: learning rate too high, fp16 overflow, or a degenerate example "
            "(empty completion, extreme log-ratio).",
            "Resume from the last good checkpoint with a lower learning_rate, use bf16 instead of fp16, "
            "keep max_grad_norm set (e.g. 1.0), and check the data for empty or truncated completions.",
        )

    def _no_learning(self, step: int) -> Verdict | None:
        window = self.train[-WINDOW:]
        if not self._past_warmup(step) or not all(self._at_chance(p) for p in window):
            return None
        last = window[-1]
        names = [("accuracy", ACC, "0.5"), ("margin", MARGIN, "0")]
        names += [("log_odds_ratio", "log_odds_ratio", "-0.693")] if "log_odds_ratio" in last else []
        names += (
            [("loss", LOSS, f"{self.zero_margin_loss:.3f}")]
            if self.zero_margin_loss and not ({"kl", "log_odds_ratio"} & last.keys())
            else []
        )
        seen = ", ".join(f"{name} {last[key]:.3f} (chance {chance})" for name, key, chance in names if key in last)
        return Verdict(
            "no_learning",
            step,
            f"after {len(self.train)} train logs the rewards are still at chance: {seen}",
            "The policy is not moving away from the reference: the learning rate is too low (or the adapters are "
            "not being trained), or chosen/rejected are swapped or inconsistent, so the pairs carry no signal.",
            "Raise learning_rate (try 5-10x), check that the LoRA adapters are trainable, and read a few pairs to "
            "confirm that `chosen` really is the better answer.",
        )

    def _eval_plateau(self, step: int) -> Verdict | None:
        untied = [p for p in self.evals if abs(p.get("eval_" + MARGIN, 1.0)) >= TIE_EPS]
        window = [p["eval_" + ACC] for p in untied if "eval_" + ACC in p][-WINDOW:]
        if len(window) < WINDOW or not all(PLATEAU_LOW <= a <= PLATEAU_HIGH for a in window):
            return None
        if window[-1] - window[0] > PLATEAU_MIN_GAIN:
            return None
        return Verdict(
            "eval_plateau",
            step,
            f"eval reward accuracy has stayed around 0.55-0.60 for {WINDOW} evals "
            f"({', '.join(f'{a:.2f}' for a in window)})",
            "The pairs are too ambiguous for this model (chosen and rejected too similar, or noisy labels), or beta "
            "does not suit the data.",
            "Filter or relabel ambiguous pairs (keep those with a clear quality gap) and try another beta "
            "(e.g. 0.05 or 0.3 instead of 0.1); more epochs on the same pairs rarely help.",
        )

    def _both_rewards_falling(self, step: int) -> Verdict | None:
        chosen, rejected = self._series("train", CHOSEN), self._series("train", REJECTED)
        if min(len(chosen), len(rejected)) <= WINDOW:
            return None
        drop = chosen[0] - chosen[-1]
        margin = self._last("train", MARGIN)
        margin = chosen[-1] - rejected[-1] if margin is None else margin
        falling = chosen[-1] < chosen[-WINDOW] and rejected[-1] < rejected[-WINDOW] and rejected[-1] < rejected[0]
        if not (falling and drop >= REWARD_DROP_MIN and drop > margin):
            return None
        return Verdict(
            "both_rewards_falling",
            step,
            f"chosen reward fell {chosen[0]:.2f} -> {chosen[-1]:.2f} and rejected {rejected[0]:.2f} -> "
            f"{rejected[-1]:.2f}; the chosen drop exceeds the margin ({margin:.2f})",
            "The policy drifts away from the reference on both answers: it wins the comparison mostly by making "
            "every response less likely, which tends to hurt generation quality.",
            (
                "Lower learning_rate"
                if self.reference_free
                else "Raise beta (keeps the policy nearer the reference) or lower learning_rate"
            )
            + f"; an SFT term anchors the chosen answers: {self.anchor}.",
        )

    def _overfitting(self, step: int) -> Verdict | None:
        if len(self.evals) < 2:
            return None
        prev, now = self.evals[-2], self.evals[-1]
        values = (
            now["train_acc"],
            prev["train_margin"],
            now["train_margin"],
            prev.get("eval_" + MARGIN),
            now.get("eval_" + MARGIN),
        )
        if any(v is None for v in values):
            return None
        train_acc, train_prev, train_now, eval_prev, eval_now = values
        train_growth, eval_growth = _growth(train_prev, train_now), _growth(eval_prev, eval_now)
        if train_acc < OVERFIT_TRAIN_ACC or train_growth < OVERFIT_TRAIN_GROWTH or eval_growth >= OVERFIT_EVAL_GROWTH:
            return None
        return Verdict(
            "overfitting",
            step,
            f"train accuracy {train_acc:.2f}, train margin {train_prev:.2f} -> {train_now:.2f} since the last eval, "
            f"but eval margin {eval_prev:.2f} -> {eval_now:.2f}",
            "The policy is memorising the training pairs: the train margin keeps growing but does not carry over "
            "to held-out pairs.",
            "Keep the checkpoint with the best eval margin and stop earlier (fewer epochs), lower learning_rate or "
            "raise beta, or add more varied pairs.",
        )

    def _chosen_logps_collapse(self, step: int) -> Verdict | None:
        logps = self._series("train", LOGPS_CHOSEN)
        if len(logps) <= WINDOW:
            return None
        floor = logps[0] - max(LOGPS_COLLAPSE_MIN_NATS, LOGPS_COLLAPSE_SHARE * abs(logps[0]))
        if not all(v < floor for v in logps[-WINDOW:]):
            return None
        return Verdict(
            "chosen_logps_collapse",
            step,
            f"log-probability of the chosen answers fell {logps[0]:.1f} -> {logps[-1]:.1f} (more than "
            f"{LOGPS_COLLAPSE_SHARE:.0%} below its start)",
            "The preferred answers themselves are being unlearned: the DPO loss only rewards the gap, so chosen "
            "and rejected can fall together (likelihood displacement), often when pairs are near-duplicates.",
            ("Lower learning_rate" if self.reference_free else "Lower learning_rate or raise beta")
            + f", add an SFT term on the chosen answers ({self.anchor}), and drop pairs whose chosen and rejected "
            "are nearly identical.",
        )


# -- the Trainer callback -------------------------------------------------------------------------------------
LIVE_WIDTH = 112
# summary.json's rows: name -> the keys that carry it, in the order tried (preference trainers, reward model, SFT)
SUMMARY_KEYS = (
    ("loss", (LOSS,)),
    ("margin", (MARGIN, "margin")),
    ("accuracy", (ACC, "accuracy")),
    ("token_accuracy", (TOKEN_ACC,)),
)
# GRPO/RLOO runs add these rows (a preference run's summary.json keeps exactly the rows above)
ONLINE_SUMMARY_KEYS = (
    ("reward", (online.REWARD,)),
    ("completion_length", (online.LENGTH,)),
    ("clipped_ratio", (online.CLIPPED,)),
)
BAR_WIDTH = 10


def _progress(step: int, max_steps: int) -> str:
    if max_steps <= 0:
        return f"step {step}"
    filled = min(BAR_WIDTH, round(BAR_WIDTH * step / max_steps))
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {step}/{max_steps}"


def pace(seconds_per_step: float, steps_left: int) -> str:
    """'5.2 s/step, 2m10s left': the speed so far and what it means for the steps still to run."""
    left = round(seconds_per_step * max(steps_left, 0))
    eta = f"{left // 3600}h{left % 3600 // 60:02d}m" if left >= 3600 else f"{left // 60}m{left % 60:02d}s"
    return (
        f"{seconds_per_step:.2g} s/step, {eta} left"
        if seconds_per_step < 10
        else f"{seconds_per_step:.0f} s/step, {eta} left"
    )


def live_line(record: dict, max_steps: int, timing: str = "") -> str:
    """One terminal line: progress (and `timing`, see `pace`), then loss, margin, accuracy, chosen/rejected rewards
    of this log event."""
    kind = log_kind(record)
    prefix = "eval_" if kind == "eval" else ""
    fields = [
        ("loss", LOSS, ".4f"),
        ("margin", MARGIN, ".3f"),
        ("acc", ACC, ".2f"),
        ("chosen", CHOSEN, ".3f"),
        ("rejected", REJECTED, ".3f"),
        ("token acc", TOKEN_ACC, ".3f"),  # SFT
        ("margin", "margin", ".3f"),
        ("acc", "accuracy", ".2f"),
    ]  # reward model
    if kind == "other":  # the final log: train_loss, train_runtime, ...
        prefix, fields = "train_", [("done: train loss", LOSS, ".4f")]
    parts = (
        [_progress(record["step"], max_steps)]
        + ([f"({timing})"] if timing else [])
        + (["eval"] if kind == "eval" else [])
    )
    if kind != "other" and online.is_online(record):  # GRPO/RLOO: the reward is the signal, the loss sits near 0
        line = " ".join(parts + online.live_parts(record, prefix))
        return line if len(line) <= LIVE_WIDTH else line[: LIVE_WIDTH - 1] + "…"
    if prefix + ACC in record:  # a preference trainer's line: its token accuracy (DPO logs one too) is noise there
        fields = [field for field in fields if field[1] != TOKEN_ACC]
    for name, key, fmt in fields:
        value = record.get(prefix + key)
        if _is_number(value):
            parts.append(f"{name} {value:{fmt}}")
        elif prefix + key in record and value is None:
            parts.append(f"{name} nan")  # metrics.jsonl stores non-finite values as null
    line = " ".join(parts)
    return line if len(line) <= LIVE_WIDTH else line[: LIVE_WIDTH - 1] + "…"


def format_verdict(verdict: Verdict) -> str:
    """The verdict as a few lines wrapped to the live-line width."""

    def wrap(label: str, text: str) -> str:
        return textwrap.fill(text, LIVE_WIDTH, initial_indent=label, subsequent_indent=" " * len(label))

    return "\n".join(
        [
            wrap(f"! {verdict.code} (step {verdict.step}): ", verdict.message),
            wrap("    cause: ", verdict.cause),
            wrap("    fix:   ", verdict.fix),
        ]
    )


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN/Infinity; null marks a non-finite value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


FROM_ARGS = "from_args"


def anchor_override(args) -> str:
    """The exact override that adds an SFT term to this trainer's loss, or strengthens the one it has."""
    loss_type = getattr(args, "loss_type", None)
    if hasattr(args, "simpo_gamma"):  # CPOTrainer (SimPO): cpo_alpha weighs its NLL term on the chosen reply
        alpha = float(getattr(args, "cpo_alpha", 0.0))
        return f"cpo_alpha={2 * alpha:g}" if alpha > 0 else f"cpo_alpha={SFT_WEIGHT} (CPO-SimPO)"
    if isinstance(loss_type, list):  # DPOTrainer: a list of losses with one weight each
        weights = list(getattr(args, "loss_weights", None) or [1.0] * len(loss_type))
        if "sft" in loss_type:
            index = loss_type.index("sft")
            weights[index] *= 2
            return f"loss_weights={','.join(f'{w:g}' for w in weights)} (twice the sft weight)"
        names, weights = loss_type + ["sft"], weights + [SFT_WEIGHT]
        return f"loss_type={','.join(names)} loss_weights={','.join(f'{w:g}' for w in weights)}"
    if loss_type is None and hasattr(args, "beta") and not hasattr(args, "desirable_weight"):  # ORPO
        return f"beta={float(args.beta) / 2:g}: ORPO's SFT term then weighs twice as much against the odds ratio"
    return DEFAULT_ANCHOR


def zero_margin_loss_of(args) -> float | None:
    """The loss at zero reward margin for the trainer's loss: ln 2 for DPO's sigmoid loss and for ORPO/KTO (whose
    verdicts read other keys), (1/(2*beta))**2 for IPO, log(1 + e^gamma) for SimPO without its SFT term, None for
    anything else (a mixture such as sigmoid+sft has no single such value, so the verdict then relies on accuracy
    and margin alone)."""
    loss_type = getattr(args, "loss_type", None)
    names = [loss_type] if isinstance(loss_type, str) or loss_type is None else list(loss_type)
    if names in ([None], ["sigmoid"], ["kto"]):
        return LN2
    if names == ["ipo"]:
        beta = float(getattr(args, "beta", 0.1))
        return (1 / (2 * beta)) ** 2
    if names == ["simpo"] and not getattr(args, "cpo_alpha", 0.0):  # -log σ(0 - γ): the margin γ not yet reached
        return math.log1p(math.exp(float(getattr(args, "simpo_gamma", 0.5))))
    return None


class TrainingHealthCallback(TrainerCallback):
    """Writes metrics.jsonl / verdicts.json / summary.json / metrics.png under `output_dir` and prints progress.

    `verdicts=False` keeps the log files and live line but neither prints nor records verdicts; training still
    stops on a non-finite loss. `live=False` silences the per-log line. `stream` defaults to stdout.
    `zero_margin_loss` is the loss value at zero reward margin, which the "no learning" verdict compares against;
    by default ("from_args") it is read from the trainer's own arguments when training starts (see
    `zero_margin_loss_of`); None judges "no learning" on accuracy/margin alone.
    """

    def __init__(
        self,
        output_dir,
        *,
        verdicts: bool = True,
        live: bool = True,
        stream=None,
        zero_margin_loss: float | None | str = FROM_ARGS,
    ):
        self.output_dir = Path(output_dir)
        self.verdicts_enabled = verdicts
        self.live = live
        self.stream = stream
        self._margin_from_args = zero_margin_loss == FROM_ARGS
        self.monitor = HealthMonitor(zero_margin_loss=LN2 if self._margin_from_args else zero_margin_loss)
        self.history: list[dict] = []
        self.last_logs: dict = {}
        self.verdicts: list[Verdict] = []
        self.stopped_on_non_finite = False
        self.last_good_checkpoint: Path | None = None
        self._started = False
        # The trainer's reporting callbacks (TensorBoard, trackio, W&B, ...; set by Run.train): verdicts are sent
        # to them too, through their own on_log, so they land wherever report_to sends the curves.
        self.trackers: list = []

    metrics_path = property(lambda self: self.output_dir / "metrics.jsonl")
    verdicts_path = property(lambda self: self.output_dir / "verdicts.json")
    summary_path = property(lambda self: self.output_dir / "summary.json")
    plot_path = property(lambda self: self.output_dir / "metrics.png")

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def _continue_previous_run(self, first_step: int) -> None:
        """On a resumed run, keep what earlier runs logged before `first_step` and drop the steps being redone,
        so metrics.jsonl stays one run; a fresh run (first step 0 or 1) thereby starts clean."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.metrics_path.exists():
            kept = [r for r in read_metrics(self.metrics_path, dedupe=False) if r["step"] < first_step]
            files.write_jsonl(self.metrics_path, kept)
            for record in kept:
                self.history.append(record)
                self.monitor.observe(record["step"], record)
        if self.verdicts_path.exists():
            try:
                earlier = [Verdict(**v) for v in json.loads(self.verdicts_path.read_text(encoding="utf-8"))]
            except (ValueError, TypeError):
                earlier = []
            self.verdicts = [v for v in earlier if v.step < first_step]
        if self.verdicts_enabled:
            self._write_verdicts()  # present from the first log on, [] while the run is healthy
        self.monitor.raised |= {v.code for v in self.verdicts}
        self.monitor.raised.discard(NON_FINITE)  # a NaN in the resumed run must still stop it

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if not self._started:
            self._started = True
            if self._margin_from_args:
                self.monitor.zero_margin_loss = zero_margin_loss_of(args)
            self.monitor.anchor = anchor_override(args)
            self.monitor.online.configure(args)
            self.monitor.reference_free = hasattr(args, "simpo_gamma") or (
                getattr(args, "loss_type", None) is None and hasattr(args, "beta")
            )
            self._continue_previous_run(state.global_step)
        self.monitor.max_steps = state.max_steps or 0
        self.monitor.grad_norm_patience = GRAD_NORM_PATIENCE_FP16 if getattr(args, "fp16", False) else 1
        epoch = logs.get("epoch", state.epoch)
        record = {"step": state.global_step, "epoch": epoch}
        record |= {k: _jsonable(v) for k, v in logs.items() if k not in record}
        files.append_line(self.metrics_path, json.dumps(record))
        self.history.append(record)
        self.last_logs = record
        if self.live:
            self._print(
                live_line(record, state.max_steps or 0, self._timing(state) if log_kind(record) == "train" else "")
            )
        for verdict in self.monitor.observe(state.global_step, logs):
            self._raise(verdict, args, control)
            if self.verdicts_enabled:
                self.to_trackers(args, state, control, {f"{TRACKER_PREFIX}{verdict.code}": 1.0})

    def on_train_begin(self, args, state, control, **kwargs):
        self._clock = (time.monotonic(), state.global_step)  # resumed runs start counting at their first step
        note = online.online_note(args)  # GRPO/RLOO: why the loss sits near 0, said once before the first line
        if note and self.live and state.is_world_process_zero:
            self._print(textwrap.fill(note, LIVE_WIDTH, subsequent_indent="  "))

    def _timing(self, state) -> str:
        start, first_step = getattr(self, "_clock", (None, 0))
        done = state.global_step - first_step
        if start is None or done <= 0 or not state.max_steps:
            return ""
        return pace((time.monotonic() - start) / done, state.max_steps - state.global_step)

    def to_trackers(self, args, state, control, figures: dict) -> None:
        """Log `figures` (numbers) at the current step to every tracker the run reports to."""
        for tracker in self.trackers:
            tracker.on_log(args, state, control, logs=dict(figures))

    def _raise(self, verdict: Verdict, args, control) -> None:
        if verdict.code == NON_FINITE:
            control.should_training_stop = True
            control.should_save = False  # never write a checkpoint with NaN weights
            control.should_evaluate = False
            self.stopped_on_non_finite = True
        if self.verdicts_enabled:
            self.verdicts.append(verdict)
            self._write_verdicts()
            self._print(format_verdict(verdict))
        if verdict.code == NON_FINITE:
            self.last_good_checkpoint = self._last_good_checkpoint(Path(getattr(args, "output_dir", self.output_dir)))
            kept = (
                f"the last good checkpoint is kept: {self.last_good_checkpoint}"
                if self.last_good_checkpoint
                else "no checkpoint was saved before the failure"
            )
            self._print(f"! training stopped at step {verdict.step} on a non-finite loss; {kept}")

    def _last_good_checkpoint(self, directory: Path) -> Path | None:
        from trlrecipes.run.folder import newest_valid_checkpoint

        good = self.monitor.last_finite_step
        return None if good is None else newest_valid_checkpoint(directory, at_most=good)

    def _write_verdicts(self) -> None:
        files.write_json(self.verdicts_path, [asdict(v) for v in self.verdicts])

    def summary(self) -> dict:
        """Start and end of loss, margin and accuracy for train and eval, plus the verdict codes."""

        def start_end(kind: str, keys: tuple[str, ...]):
            for key in keys:  # the first key the method logs (DPO's rewards/*, the reward model's own names)
                values = [r[key] for r in self.history if log_kind(r) == kind and isinstance(r.get(key), (int, float))]
                if values:
                    return {"start": values[0], "end": values[-1]}
            return None

        result = {"steps": self.last_logs.get("step"), "stopped_on_non_finite": self.stopped_on_non_finite}
        rows = SUMMARY_KEYS + (ONLINE_SUMMARY_KEYS if any(online.is_online(r) for r in self.history) else ())
        for kind, prefix in (("train", ""), ("eval", "eval_")):
            result[kind] = {name: start_end(kind, tuple(prefix + key for key in keys)) for name, keys in rows}
        result["verdicts"] = [v.code for v in self.verdicts]
        return result

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        summary["steps"] = state.global_step
        files.write_json(self.summary_path, summary)
        lines = [f"training summary ({state.global_step} steps):"]
        for kind in ("train", "eval"):
            ends = {name: v for name, v in summary[kind].items() if v and name != "loss"}
            shown = [f"{name} {v['start']:.3f} -> {v['end']:.3f}" for name, v in ends.items()]
            if shown:
                lines.append(f"  {kind:<5} " + ", ".join(shown))
        lines.append(
            "  verdicts: "
            + (", ".join(summary["verdicts"]) + f" (see {self.verdicts_path})" if summary["verdicts"] else "none")
        )
        try:
            lines.append(f"  plot: {plot_metrics(self.metrics_path, self.plot_path)}")
        except (UserError, ImportError) as error:
            lines.append(f"  plot: not written ({error})")
        self._print("\n".join(lines))
