"""Health checks for online RL (TRL's GRPOTrainer and RLOOTrainer): the reward is the signal, not the loss.

Pure: no torch/transformers import. `HealthMonitor` (health.py) feeds `online_findings` the train logs of a run once
they carry online keys, and wraps each finding (code, message, cause, fix) into a Verdict; a preference run (DPO, KTO,
ORPO, SFT, RM) never logs these keys, so none of these checks runs for it.

Metric keys read (TRL 1.16 GRPOTrainer and RLOOTrainer log the same names; eval logs prefix them with "eval_"):
  reward                    mean weighted reward of the batch's completions (sum over reward functions x weights)
  reward_std                its standard deviation over the batch
  frac_reward_zero_std      share of completions whose prompt group got one reward for all num_generations replies
  completions/mean_length   mean completion length in tokens; completions/clipped_ratio: share cut at
                            max_completion_length (no end token)
  entropy                   mean per-token entropy of the policy over completion tokens (nats)
  kl                        only when beta != 0: GRPO's per-token KL estimate (k3, >= 0) in the loss; RLOO's per-token
                            log-ratio, which RLOO subtracts from the reward (beta x summed KL) instead of the loss
  rewards/<fn>/mean|std     per reward function, unweighted
(grpo_trainer.py 2296-2310, 2823-2830, 3268-3270; rloo_trainer.py 1440-1454, 1716-1728, 1847.)
"""

from __future__ import annotations

REWARD, REWARD_STD, ZERO_STD = "reward", "reward_std", "frac_reward_zero_std"
LENGTH, CLIPPED, ENTROPY, KL = "completions/mean_length", "completions/clipped_ratio", "entropy", "kl"
# Keys only the online trainers log: their presence marks a GRPO/RLOO log (KTO and SFT log kl / entropy too).
ONLINE_KEYS = (REWARD, ZERO_STD, LENGTH, CLIPPED)

# Consecutive train logs a pattern must hold for, so that one unlucky batch raises nothing (as for DPO's verdicts).
WINDOW = 3
# "Near 1": at most one prompt group in ten (or one completion in ten) left; a 0/1 reward with 4 completions per
# prompt gives a group one verdict for all four with probability p^4 + (1-p)^4: 0.125 at p = 0.5, 0.66 at p = 0.1,
# so 0.9 over a whole batch means the task sits at the edge for this model, not an unlucky draw.
ZERO_STD_HIGH = 0.9
CLIPPED_HIGH = 0.9
# "Not rising": the mean reward since the middle of the run is less than a twentieth of the batch's reward spread
# (reward_std of the first logs) above the first logs; for a 0/1 reward at p = 0.5 (std 0.5), 2.5 accuracy points.
# Judged from 12 logs on (and past DPO's warm-up rule), so that the two means are several batches apart.
FLAT_REWARD_GAIN, FLAT_MIN_LOGS = 0.05, 4 * WINDOW
# Length blow-up: the mean completion length at least doubled from the first logs, and by 32 tokens or more (a move
# from 6 to 12 tokens is not what this is about).
LENGTH_GROWTH, LENGTH_GROWTH_MIN_TOKENS = 2.0, 32
# Entropy collapse: per-token entropy under a quarter of its start. Measured: SmolLM2-135M-Instruct sampling at
# temperature 1 gave 1.5-1.9 nats/token on GSM8K-style questions (4 GRPO steps, 64-token replies).
ENTROPY_COLLAPSE_SHARE = 0.25
# KL runaway: a per-token KL above 1 nat: the policy's tokens are on average e ~ 2.7x more (or less) likely than
# under the reference, far outside a KL-regularised run's intent.
KL_HIGH = 1.0


def is_online(logs: dict) -> bool:
    """True for a log of TRL's GRPOTrainer/RLOOTrainer (train or eval)."""
    return any(key in logs or f"eval_{key}" in logs for key in ONLINE_KEYS)


def online_trainer(args) -> str | None:
    """'GRPO' or 'RLOO' from the trainer's arguments (duck-typed: GRPOConfig has scale_rewards, RLOOConfig has
    normalize_advantages), None for any other trainer."""
    if not (hasattr(args, "num_generations") and hasattr(args, "max_completion_length")):
        return None
    return "GRPO" if hasattr(args, "scale_rewards") else "RLOO"


def online_note(args) -> str | None:
    """The line printed once when an online run starts: why its loss sits near 0, and what to watch instead."""
    trainer = online_trainer(args)
    if trainer is None:
        return None
    beta, iterations = float(getattr(args, "beta", 0.0) or 0.0), int(getattr(args, "num_iterations", 1) or 1)
    once = "one iteration per batch" if iterations == 1 else f"num_iterations={iterations}"
    if trainer == "RLOO":
        why = f"{once}; the leave-one-out advantages of a group sum to 0" + (
            f", and beta={beta:g} is a KL penalty inside the reward, not the loss" if beta else ""
        )
    elif beta == 0:
        why = f"beta=0, {once}: the advantages are centred within each group"
    else:
        why = f"beta={beta:g} adds only beta x KL, {once}: the advantages are centred within each group"
    return (
        f"note: a loss near 0 is expected here ({why}); watch the reward. The live line shows the reward "
        f"(mean±std over the batch's completions), their mean length in tokens and the share cut at "
        f"max_completion_length={getattr(args, 'max_completion_length', '?')}"
    )


def live_parts(record: dict, prefix: str = "") -> list[str]:
    """The online part of the live line: 'reward 0.425±0.310 len 57.2 clipped 0.12' (+ kl when logged)."""
    parts = []
    mean, std = record.get(prefix + REWARD), record.get(prefix + REWARD_STD)
    if _number(mean):
        parts.append(f"reward {mean:.3f}" + (f"±{std:.3f}" if _number(std) else ""))
    elif prefix + REWARD in record:
        parts.append("reward nan")  # every reward function returned None for the whole batch (logged as null)
    for name, key, fmt in (("len", LENGTH, ".1f"), ("clipped", CLIPPED, ".2f"), ("zero-std", ZERO_STD, ".2f")):
        value = record.get(prefix + key)
        if _number(value) and (key != ZERO_STD or value > 0):  # zero-std shown only when some group is all alike
            parts.append(f"{name} {value:{fmt}}")
    if _number(record.get(prefix + KL)):
        parts.append(f"kl {record[prefix + KL]:.4f}")
    return parts


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _series(train: list[dict], key: str) -> list[float]:
    return [point[key] for point in train if _number(point.get(key))]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class OnlineChecks:
    """The online verdicts over the train logs seen so far. `findings(train, past_warmup)` returns the matching
    (code, message, cause, fix) tuples; the caller (HealthMonitor) raises each code at most once. The trainer's own
    settings (set by the callback from its args when training starts) make the advice name the values to change."""

    def __init__(self):
        self.trainer: str | None = None  # "GRPO" / "RLOO" when known from the args
        self.max_completion_length: int | None = None
        self.temperature: float | None = None
        self.num_generations: int | None = None
        self.beta: float | None = None

    def configure(self, args) -> None:
        """Read the values the advice quotes from the trainer's arguments (GRPOConfig / RLOOConfig)."""
        self.trainer = online_trainer(args)
        self.max_completion_length = getattr(args, "max_completion_length", None)
        self.temperature = getattr(args, "temperature", None)
        self.num_generations = getattr(args, "num_generations", None)
        self.beta = getattr(args, "beta", None)

    def findings(self, train: list[dict], past_warmup: bool) -> list[tuple[str, str, str, str]]:
        if not train or not is_online(train[-1]):
            return []
        found = (
            self._no_signal(train),
            self._clipped(train),
            self._reward_flat(train, past_warmup),
            self._length_blowup(train),
            self._entropy_collapse(train),
            self._kl_runaway(train),
        )
        return [finding for finding in found if finding is not None]

    def _setting(self, name: str, suggest) -> str:
        """'temperature (now 1, e.g. 1.2)': the setting, its value in this run, a value to try (`suggest(value)`)."""
        value = getattr(self, name)
        return f"{name} (now {value:g}, e.g. {suggest(value):g})" if _number(value) else name

    # -- each returns (code, message, cause, fix) or None ----------------------------------------------------------
    def _no_signal(self, train):
        """frac_reward_zero_std near 1 for WINDOW logs: every completion of a prompt got the same reward."""
        window = _series(train, ZERO_STD)[-WINDOW:]
        if len(window) < WINDOW or min(window) < ZERO_STD_HIGH:
            return None
        rewards = _series(train, REWARD)[-WINDOW:]
        level = f" (reward {_mean(rewards):.3f})" if rewards else ""
        generations = self._setting("num_generations", lambda n: 2 * n)
        temperature = self._setting("temperature", lambda t: round(t + 0.2, 2))
        return (
            "no_reward_signal",
            f"{_mean(window):.0%} of the prompt groups got one reward for all their completions over the last "
            f"{WINDOW} logs{level}: they carry no learning signal",
            "GRPO and RLOO learn from reward differences among the completions of one prompt; when all of them "
            "score alike (all wrong: the task is too hard for this model; all right: too easy; or the replies are "
            "nearly identical, or the reward function returns a constant), every advantage is 0 and the step "
            "teaches nothing.",
            f"Raise {temperature} or {generations} so that groups differ, make the task "
            "easier (or harder, if all succeed), or give partial credit; check the reward function on a few "
            "completions (trl.log_completions=true prints them).",
        )

    def _clipped(self, train):
        """completions/clipped_ratio near 1 for WINDOW logs: replies are cut at max_completion_length."""
        window = _series(train, CLIPPED)[-WINDOW:]
        if len(window) < WINDOW or min(window) < CLIPPED_HIGH:
            return None
        limit = self.max_completion_length
        raise_to = f"max_completion_length={2 * limit}" if _number(limit) else "max_completion_length (e.g. x2)"
        return (
            "completions_clipped",
            f"{_mean(window):.0%} of the completions were cut at max_completion_length"
            + (f"={limit}" if _number(limit) else "")
            + f" over the last {WINDOW} logs (no end token)",
            "The replies do not fit: the reward judges cut-off text (a final answer usually comes last), and a "
            "length limit that always binds hides whether the model would stop on its own.",
            f"Raise {raise_to}, or ask for shorter answers in the prompt; trl.mask_truncated_completions=true "
            "leaves cut-off replies out of the loss (DAPO's practice).",
        )

    def _reward_flat(self, train, past_warmup: bool):
        """Past warm-up and with at least FLAT_MIN_LOGS logs, the mean reward of the latter half of the logs is less
        than FLAT_REWARD_GAIN of the first logs' reward spread above the first WINDOW logs, at each of the last
        WINDOW logs. The latter half averages more batches as the run goes on, so batch noise fades from the test."""
        rewards, spreads = _series(train, REWARD), _series(train, REWARD_STD)
        if not past_warmup or len(rewards) < FLAT_MIN_LOGS or len(spreads) < WINDOW:
            return None
        if _recent_zero_std(train):
            return None  # no_reward_signal explains it better
        start, spread = _mean(rewards[:WINDOW]), _mean(spreads[:WINDOW])
        if spread <= 0:
            return None
        gains = [_mean(rewards[n // 2 : n]) - start for n in range(len(rewards) - WINDOW + 1, len(rewards) + 1)]
        if max(gains) >= FLAT_REWARD_GAIN * spread:
            return None
        later = _mean(rewards[len(rewards) // 2 :])
        return (
            "reward_flat",
            f"after {len(rewards)} train logs the reward has not risen: {start:.3f} in the first {WINDOW} logs, "
            f"{later:.3f} on average since the middle of the run (batch spread {spread:.3f})",
            "The policy is not finding better completions: the learning rate is too low for LoRA (it wants ~10x the "
            "full fine-tuning rate), the reward does not separate good from bad replies, or the prompts are out of "
            "the model's reach.",
            "Raise learning_rate (try 3-10x), check the reward on a few completions (trl.log_completions=true), and "
            "try an easier slice of the prompts or a larger model.",
        )

    def _length_blowup(self, train):
        """The mean completion length at least doubled (and by LENGTH_GROWTH_MIN_TOKENS) for WINDOW logs."""
        lengths = _series(train, LENGTH)
        if len(lengths) < 2 * WINDOW:
            return None
        start = _mean(lengths[:WINDOW])
        floor = max(LENGTH_GROWTH * start, start + LENGTH_GROWTH_MIN_TOKENS)
        if min(lengths[-WINDOW:]) < floor:
            return None
        return (
            "length_blowup",
            f"completions grew from {start:.0f} to {lengths[-1]:.0f} tokens on average",
            "Longer replies are scoring higher: a reward model's length bias, a reward that counts something which "
            "grows with length, or a loss with a length bias (loss_type=grpo). In reasoning tasks longer working can "
            "be genuine; read a few completions to tell padding from reasoning.",
            "Read completions (trl.log_completions=true); if it is padding, add a length penalty or a format reward "
            "(reward=... with reward_weights), keep loss_type=dapo or dr_grpo, or lower learning_rate.",
        )

    def _entropy_collapse(self, train):
        """Per-token entropy under ENTROPY_COLLAPSE_SHARE of its first logged value for WINDOW logs."""
        entropy = _series(train, ENTROPY)
        if len(entropy) <= WINDOW or entropy[0] <= 0:
            return None
        if max(entropy[-WINDOW:]) >= ENTROPY_COLLAPSE_SHARE * entropy[0]:
            return None
        return (
            "entropy_collapse",
            f"per-token entropy fell {entropy[0]:.2f} -> {entropy[-1]:.2f} nats (below "
            f"{ENTROPY_COLLAPSE_SHARE:.0%} of its start)",
            "The policy has become nearly deterministic: the completions of a prompt become alike, so their rewards "
            "stop differing and learning stalls (often after the learning rate was too high).",
            "Resume from an earlier checkpoint with a lower learning_rate, set or raise "
            f"{self._setting('beta', lambda b: 2 * b if b else 0.04)} (a KL pull towards the reference), or add an "
            "entropy bonus (GRPO: trl.entropy_coef=0.01).",
        )

    def _kl_runaway(self, train):
        """The logged KL (beta != 0) above KL_HIGH nats per token for WINDOW logs."""
        kl = _series(train, KL)[-WINDOW:]
        if len(kl) < WINDOW or min(kl) <= KL_HIGH:
            return None
        beta = self._setting("beta", lambda b: 3 * b if b else 0.04)
        return (
            "kl_runaway",
            f"KL to the reference is {kl[-1]:.2f} nats per token (above {KL_HIGH:g} for {WINDOW} logs)",
            "The policy has moved far from the reference model: it is exploiting the reward (reward hacking) or "
            "the updates are too large, and its replies tend to lose fluency.",
            f"Raise {beta} or lower learning_rate, and resume from a checkpoint taken before the KL rose.",
        )


def _recent_zero_std(train: list[dict]) -> bool:
    window = _series(train, ZERO_STD)[-WINDOW:]
    return len(window) == WINDOW and min(window) >= ZERO_STD_HIGH
