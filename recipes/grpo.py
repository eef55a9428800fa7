"""GRPO (or RLOO) with LoRA: online RL, the policy's own replies scored by a verifier or a reward model.

The policy samples `num_generations` replies to each prompt, a reward function scores them, and each reply is
pushed up or down by how it scored against its siblings.

GRPO (DeepSeekMath, Shao et al. 2024) centres each reward on its prompt group's mean (and scales by the group's
spread); RLOO (Ahmadian et al. 2024) takes the mean of the *other* replies as the baseline: `trainer=rloo`. No
pairs and no reference replies are needed, only prompts and a judge. Defaults train on trlrecipes' verifiable
instruction-following task (trlrecipes/tasks/instructions.py: everyday questions with format constraints a program
checks), partial credit as the reward, the all-or-nothing `verify` held out; presets: ifeval-grpo (these defaults),
gsm8k-grpo (GSM8K's questions, its answer checked) and hh-grpo (a reward model as the judge).

Rewards: `reward` lists judges as `module:fn` or `file.py:fn`, each `fn(prompt, response, **row_fields) -> float`
(row fields are the prompt data's other columns, such as GSM8K's `answer`; `truncated=True` marks a reply cut at
max_completion_length), summed with `reward_weights`; `reward_model` adds a reward model's score (a run folder of
`trlrecipes run hh-rm`, a model folder or a Hub id). The same judges work in `synth` and `eval --generate`.

The loss sits near 0 by construction (beta=0, one update per batch: the advantages are centred): watch the reward,
which the live line shows with its spread, the completion length and the share of replies cut at the length cap.
Afterwards: `trlrecipes eval RUN --generate --reward trlrecipes.tasks.instructions:verify` (reference = the adapter
off), `trlrecipes report RUN`, `trlrecipes merge RUN`.

Copy it (`trlrecipes cp grpo my-grpo.py`), edit, and run it with `trlrecipes run my-grpo.py key=value ...`,
`python my-grpo.py key=value ...` or `accelerate launch my-grpo.py ...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trlrecipes.errors import UserError
from trlrecipes.run.settings import LoraSettings
from trlrecipes.tasks.instructions import TEST_FILE, TRAIN_FILE

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "GRPO"
# Config fields named like GRPOConfig fields pass through (RLOOConfig's for trainer=rloo); any other: trl.<field>=.
# trl.<field> names are checked against GRPOConfig; RLOO's own two fields are Config fields below.
TRL_CONFIG = "trl:GRPOConfig"
TRAINERS = {"grpo": ("GRPOConfig", "GRPOTrainer"), "rloo": ("RLOOConfig", "RLOOTrainer")}
# TRL 1.16 GRPOConfig.loss_type values (grpo_trainer.py 3109-3175)
GRPO_LOSSES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo")
# --demo: 8 steps x 4 prompts x 4 replies (128 sampled) of at most 64 tokens at learning rate 5e-4 (the one value
# measured at this size), then 64 held-out prompts answered greedily by both sides under the same cap. Measured on 2
# CPU cores (docs/methods.md#online-rl-grpo-and-rloo): 3 min 52 s cold, 19-23 s a step; held-out verifier accuracy
# 0.031 -> 0.172, +0.141 [+0.062, +0.234], 9 prompts won and 0 lost, most of it from replies that end within the cap
# (cut 42 % -> 22 %).
DEMO = {
    "dataset": str(TRAIN_FILE),
    "eval_dataset": str(TEST_FILE),
    "data_format": "prompts",
    "reward": ["trlrecipes.tasks.instructions:reward"],
    "reward_model": "",
    "eval_reward": "trlrecipes.tasks.instructions:verify",
    "num_generations": 4,
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 1,
    "max_completion_length": 64,
    "max_length": 192,
    "max_steps": 8,
    "learning_rate": 5e-4,
    "logging_steps": 1,
    "save_steps": 4,
    "max_eval_rows": 64,
}


def method(cfg: Config) -> str:
    return cfg.trainer.upper()


@dataclass
class Config(LoraSettings):
    # --- data: prompts and the fields their judges read (a .txt/.jsonl prompt file: data_format=prompts) ---
    dataset: str = str(TRAIN_FILE)  # a .jsonl with a `prompt` field (other fields reach the judge), or .txt
    data_format: str = "prompts"  # or a prompt-only format (gsm8k) or a preference format whose prompts are used
    eval_dataset: str = str(TEST_FILE)  # held-out prompts, never trained on: `eval --generate` and --demo judge them
    subset: str = ""
    # prompt + reply tokens. TRL 1.16 does not cut prompts, so a long one would make its whole batch that long: a
    # prompt longer than max_length - max_completion_length is left out at the start (counted, never silently)
    max_length: int = 512
    eval_steps: int = 0  # GRPO evaluates by sampling num_generations replies per held-out prompt: judge greedy
    # replies afterwards instead (trlrecipes eval RUN --generate --reward ...), with the paired interval
    # --- reward: judges fn(prompt, response, **row_fields) -> float, summed with reward_weights ---
    reward: list[str] = field(default_factory=lambda: ["trlrecipes.tasks.instructions:reward"])  # partial credit:
    # a reply meeting 2 of 3 constraints beats one meeting 1, so more groups have a spread than with 0/1 `verify`
    reward_weights: list[float] | None = None  # one per judge (reward_model last); None: 1.0 each (TRL's rule)
    reward_model: str = ""  # a reward-model run folder (trlrecipes run hh-rm), a model folder or a Hub id
    eval_reward: str = "trlrecipes.tasks.instructions:verify"  # the held-out judge: every constraint met, or 0
    # --- the online RL method ---
    trainer: str = "grpo"  # grpo | rloo: RLOO's leave-one-out baseline, same arguments (one program, one switch)
    # replies sampled per prompt, the group the advantage is computed in. 8 (TRL's default): a 0/1 reward that a
    # model gets right 1 time in 10 gives a group with no signal (all wrong) 43 % of the time with 8, 66 % with 4
    num_generations: int = 8
    # per_device_train_batch_size counts replies, not prompts: 8 x 4 = 32 replies = 4 prompts x 8 per step; the
    # replies generated at once (x processes) must hold whole groups: a multiple of num_generations (check below)
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 4
    # a cut reply fails the verifier, so the cap is part of the task: 42 % of SmolLM2-135M's greedy replies to the
    # held-out instruction prompts stopped at 64 tokens, 28 % at 96 (demo runs); 256 lets most end, and the
    # completions_clipped verdict says when it binds
    max_completion_length: int = 256
    temperature: float = 1.0  # sampling spread is the signal: lower makes a group's replies (and rewards) alike
    # 0: no KL term and no reference pass (TRL's GRPO default; DAPO, Dr. GRPO), for RLOO too, whose own 0.05 puts a
    # KL penalty in the reward at the cost of a reference pass per step (20 vs 16 s/step measured on CPU).
    # beta=0.04 adds the KL pull towards the start model (the adapter off).
    beta: float = 0.0
    loss_type: str = "dapo"  # GRPO only: token-level mean over the batch, no length bias (TRL's default)
    # TRL's GRPO default 1e-6 is for full fine-tuning; LoRA wants ~10x ("LoRA without regret", TRL docs; trl#2872)
    learning_rate: float = 1e-5
    use_vllm: bool = False  # generate with vLLM (colocated on the GPU; pip install vllm): GPU only
    # RLOO only (RLOOConfig's own fields, so trl.<field> stays checked against GRPOConfig): TRL's defaults
    normalize_advantages: bool = False
    reward_clip_range: list[float] | None = None


def check(cfg: Config) -> None:
    """Settings that cannot work, refused before anything loads (TRL would say so only after loading the model)."""
    import math

    if cfg.trainer not in TRAINERS:
        raise UserError(f"trainer must be one of {', '.join(TRAINERS)}, got {cfg.trainer!r}")
    if cfg.trainer == "rloo" and cfg.loss_type != "dapo":
        raise UserError(f"loss_type={cfg.loss_type} is GRPO's setting; RLOO has one loss: leave loss_type unset")
    if cfg.trainer == "grpo" and (cfg.normalize_advantages or cfg.reward_clip_range is not None):
        raise UserError("normalize_advantages and reward_clip_range are RLOO's settings: add trainer=rloo")
    if cfg.trainer == "grpo" and cfg.loss_type not in GRPO_LOSSES:
        raise UserError(f"loss_type={cfg.loss_type!r} is not one of GRPO's losses ({', '.join(GRPO_LOSSES)})")
    groups = cfg.num_generations
    if groups < 2:
        raise UserError(f"num_generations={groups}: each reply is judged against the others to its prompt; use 2+")
    processes, per_device = int(os.environ.get("WORLD_SIZE", "1")), cfg.per_device_train_batch_size
    steps = cfg.gradient_accumulation_steps  # TRL: generation batch = per-device x processes x steps_per_generation,
    batch = per_device * processes * steps  # which defaults to the accumulation (a trl.* override: TRL's own check)
    if batch % groups and not {"generation_batch_size", "steps_per_generation"} & set(cfg.trl):
        fits = [p for p in range(1, per_device + 2 * groups) if p * processes * steps % groups == 0]
        near = sorted(sorted(fits, key=lambda p: abs(p - per_device))[:2])
        divisors = sorted(
            sorted((g for g in range(2, batch + 1) if batch % g == 0), key=lambda g: abs(g - groups))[:2]
        )
        raise UserError(
            f"per_device_train_batch_size={per_device} x gradient_accumulation_steps={steps} x {processes} "
            f"process(es) = {batch} replies generated at once, not a multiple of num_generations={groups} (a "
            f"prompt's replies are generated together); use per_device_train_batch_size={' or '.join(map(str, near))}"
            + (f", or num_generations={' or '.join(map(str, divisors))}" if divisors else "")
        )
    if cfg.eval_steps > 0 and cfg.per_device_eval_batch_size * processes % groups:
        raise UserError(
            f"per_device_eval_batch_size={cfg.per_device_eval_batch_size} x {processes} process(es) is not a "
            f"multiple of num_generations={groups}; use per_device_eval_batch_size={groups} or eval_steps=0"
        )
    if cfg.max_completion_length < 1 or cfg.max_length <= cfg.max_completion_length:
        raise UserError(
            f"max_length={cfg.max_length} must leave room for a prompt beside max_completion_length="
            f"{cfg.max_completion_length} (e.g. max_length={cfg.max_completion_length + 256})"
        )
    if not (cfg.temperature > 0 and math.isfinite(cfg.temperature)):
        raise UserError(f"temperature={cfg.temperature}: sampling needs a finite temperature above 0 (e.g. 1.0)")
    for spec in cfg.reward:
        if not all(spec.rpartition(":")[::2]):
            raise UserError(f"reward={spec!r}: name a function as module:function or path/to/file.py:function")
    judges = len(cfg.reward) + bool(cfg.reward_model)
    if judges == 0:
        raise UserError("no reward: set reward=module:fn (or file.py:fn) and/or reward_model=RUN_DIR")
    if cfg.reward_weights is not None and len(cfg.reward_weights) != judges:
        raise UserError(f"reward_weights has {len(cfg.reward_weights)} value(s) for {judges} reward(s); one each")
    if cfg.use_vllm:
        _check_vllm()
    if cfg.trainer == "rloo" and cfg.trl:
        _check_rloo_fields(cfg.trl)


def _check_vllm() -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise UserError("use_vllm=true needs vLLM: pip install vllm (a CUDA GPU only), or use_vllm=false")
    import torch

    if not torch.cuda.is_available():
        raise UserError("use_vllm=true needs a CUDA GPU; on this machine use use_vllm=false (transformers generates)")


def _check_rloo_fields(settings: dict) -> None:
    """trl.<field> is checked against GRPOConfig when the settings resolve; RLOOConfig lacks some of its fields."""
    import dataclasses

    from trl import RLOOConfig

    known = {f.name for f in dataclasses.fields(RLOOConfig) if f.init}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UserError(
            f"trl.{unknown[0]} is a GRPO setting that RLOOConfig does not have; drop it or use trainer=grpo"
        )


def fit_prompts(prompts, tokenizer, room: int, name: str, say):
    """The prompts whose chat-formatted tokens fit `room`, saying how many were left out and the longest one."""
    texts = tokenizer.apply_chat_template(list(prompts["prompt"]), add_generation_prompt=True, tokenize=False)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    keep = [i for i, length in enumerate(lengths) if length <= room]
    if not keep:
        raise UserError(
            f"every {name} prompt is longer than max_length - max_completion_length = {room} tokens (the shortest "
            f"has {min(lengths)}); raise max_length"
        )
    if len(keep) < len(lengths):
        say(
            f"[{name} prompts] left out {len(lengths) - len(keep)} of {len(lengths)} prompts longer than "
            f"max_length - max_completion_length = {room} tokens (the longest: {max(lengths)}); raise max_length "
            f"to keep them"
        )
        prompts = prompts.select(keep)
    return prompts


def main(cfg: Config, run: Run) -> None:
    import trl

    from trlrecipes.tools.eval.rewards import build_rewards

    config_name, trainer_name = TRAINERS[cfg.trainer]
    tokenizer = run.tokenizer(cfg)
    # TRL callables from `reward` (+ `reward_model`), in that order, each told which replies were cut; built first,
    # so that a judge that does not load stops the run before any data is read
    rewards = build_rewards(cfg, run.model_path(cfg), tokenizer)
    train, evaluation = run.load_prompts(cfg)  # prompt rows + the columns the judges read (constraints, answer...)
    room = cfg.max_length - cfg.max_completion_length
    train = fit_prompts(train, tokenizer, room, "train", run.say)
    if evaluation is not None:
        evaluation = fit_prompts(evaluation, tokenizer, room, "eval", run.say)
    trainer = getattr(trl, trainer_name)(
        model=run.model_path(cfg),
        reward_funcs=rewards,
        args=run.trl_args(getattr(trl, config_name), cfg, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=run.lora_config(cfg),  # peft.LoraConfig from the lora_* settings, on all linear layers
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=False)  # prompts only: TRL batches whole prompt groups itself


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
