"""trlrecipes judges as TRL reward functions: what GRPOTrainer / RLOOTrainer take as `reward_funcs`.

A trlrecipes judge scores replies as `judge(prompts: list[Prompt], responses: list[str], truncated) -> list[float]`
(tasks/judges.py: a `module:fn` or `file.py:fn` callable, each `fn(prompt, response, **row_fields) -> float`;
tools/eval/judges.py: a reward model). TRL calls a reward function as
`fn(prompts=..., completions=..., completion_ids=..., **columns)`, one list entry per completion, every other
dataset column as a keyword. `JudgeReward` turns one into the other, so the judge that ranks pairs in `synth`, scores
replies in `eval --generate` and rewards completions in GRPO is one function with one signature:

* the prompt a judge sees is the prompt text (the last user message), its fields the row's other columns (a
  column that is null in a row is left out, so the function's own default applies);
* `truncated` is True for a completion cut at max_completion_length, by TRL's own rule (its last token is not an
  end token: every eos id of the model's generation config, the tokenizer's eos and pad), the rule behind TRL's
  `completions/clipped_ratio` (grpo_trainer.py 2301-2302, rloo_trainer.py 1445): a verifier fails a cut reply, as
  it does in `eval --generate`;
* a judge returns a finite float for every completion. TRL reads None as "not applicable" (a NaN it leaves out of
  the weighted sum); trlrecipes judges are also read by synth and eval, which need a number for every reply, so
  None (and NaN, inf, a string) is refused with one line naming the value (tasks/judges.checked_score). A reward
  that applies to some rows only returns 0.0 on the others.

`build_rewards(cfg, model_path, tokenizer)` is the list for a run's settings: every `reward` spec in order, then
`reward_model` (a reward-model run folder, a model folder or a Hub id: the project's RewardModel, because TRL can load
a full sequence-classification checkpoint from a string but not a LoRA reward-model run folder). `reward_weights`
reach TRL's config by name, one weight each, in the same order.
"""

from __future__ import annotations

from pathlib import Path

from trlrecipes.errors import UserError
from trlrecipes.tasks.judges import CallableReward, Prompt, load_callable

# Keywords TRL adds to the dataset columns when it calls a reward function (grpo_trainer.py 1583-1598, TRL 1.16).
TRL_KEYWORDS = frozenset({"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})


def _prompt(value, fields: dict) -> Prompt:
    """TRL's prompt (a message list, or text for a plain-text dataset) as the judge's Prompt."""
    if isinstance(value, str):
        return Prompt([{"role": "user", "content": value}], value, fields)
    messages = [{"role": m["role"], "content": m["content"]} for m in value]
    users = [m["content"] for m in messages if m["role"] == "user"]
    return Prompt(messages, users[-1] if users else messages[-1]["content"], fields)


def _reply(value) -> str:
    """A completion's text: the string, or the content of a conversational completion's messages."""
    if isinstance(value, str):
        return value
    return "".join(m.get("content") or "" for m in value)


class JudgeReward:
    """A trlrecipes judge as a TRL reward function. `name` becomes TRL's metric name (rewards/<name>/mean);
    `end_ids` (a set, or a function returning it, read at the first call so that TRL has set the pad token) tells
    the judge which completions were cut; None: `truncated` is not passed."""

    def __init__(self, judge, name: str, end_ids=None):
        self.judge, self.__name__ = judge, name
        self._end_ids = end_ids

    def end_ids(self) -> set[int] | None:
        if callable(self._end_ids):
            self._end_ids = set(self._end_ids())
        return self._end_ids

    def __call__(self, prompts, completions, completion_ids=None, **columns):
        fields = {key: values for key, values in columns.items() if key not in TRL_KEYWORDS}
        rows = [
            _prompt(prompt, {key: values[i] for key, values in fields.items() if values[i] is not None})
            for i, prompt in enumerate(prompts)
        ]
        ends = self.end_ids()
        truncated = None
        if ends is not None and completion_ids is not None:
            truncated = [bool(ids) and int(ids[-1]) not in ends for ids in completion_ids]
        return self.judge(rows, [_reply(c) for c in completions], truncated)


def end_token_ids(model_path: str, tokenizer) -> set[int]:
    """The ids that end a completion, as TRL 1.16 counts them (GRPOTrainer.__init__: the model generation config's
    eos ids and the tokenizer's eos; a completion not ending in one of them or the pad token was cut)."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(model_path).eos_token_id
    except OSError:  # no generation_config.json: transformers derives it from config.json the same way
        from transformers import AutoConfig

        eos = GenerationConfig.from_model_config(AutoConfig.from_pretrained(model_path)).eos_token_id
    ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    ids.add(tokenizer.eos_token_id)
    ids.add(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    return {int(i) for i in ids if i is not None}


def _names(specs: list[str], with_model: bool) -> list[str]:
    """Metric names: each function's own name (`reward`, `verify`), made unique by position when two share one."""
    names = [spec.rpartition(":")[2] for spec in specs] + (["reward_model"] if with_model else [])
    return [f"{name}_{i + 1}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def build_rewards(cfg, model_path: str, tokenizer) -> list[JudgeReward]:
    """TRL reward functions from the settings: `reward` specs in order, then `reward_model`; each knows the cut
    completions (see JudgeReward). Loads the reward model, if any; raises UserError for a spec that does not load."""
    specs = list(cfg.reward or [])
    if not specs and not cfg.reward_model:
        raise UserError("no reward: set reward=module:fn (or file.py:fn) and/or reward_model=RUN_DIR")

    def ends():
        return end_token_ids(model_path, tokenizer)

    names = _names(specs, bool(cfg.reward_model))
    rewards = [
        JudgeReward(CallableReward(load_callable(spec), spec), name, ends)
        for spec, name in zip(specs, names, strict=False)
    ]
    if cfg.reward_model:
        from trlrecipes.tools.eval.judges import make_judge

        try:
            judge = make_judge(reward_model=cfg.reward_model, trust_remote_code=cfg.trust_remote_code)
        except UserError as err:
            if Path(cfg.reward_model).expanduser().exists() or cfg.reward_model.count("/") != 1:
                raise
            raise UserError(  # `runs/hh-rm` reads like a Hub id too: say how to make the folder
                f"{err}; a reward-model run folder? train it first: trlrecipes run hh-rm output_dir={cfg.reward_model}"
            ) from err
        rewards.append(JudgeReward(judge, names[-1], ends))
    return rewards
