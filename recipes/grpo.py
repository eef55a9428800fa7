"""GRPO (or RLOO) with LoRA: online RL from verifiable rewards. The policy samples `num_generations` replies to each
prompt, a reward function scores them, and each reply is pushed up or down by how it scored against its siblings.

GRPO (DeepSeekMath, Shao et al. 2024) centres each reward on its prompt group's mean (and scales by the group's
spread); RLOO (Ahmadian et al. 2024) takes the mean of the *other* replies as the baseline: `trainer=rloo`. No
pairs and no reference replies are needed, only prompts and a judge: defaults train on GSM8K's questions with its
verifier (the reply's last number against the answer). `reward` lists judges as `module:fn` or `file.py:fn`,
each `fn(prompt, response, **row_fields) -> float` (row fields are the prompt data's other columns, such as
GSM8K's `answer`); `reward_model` adds a reward model's score (a run folder of `trlrecipes run hh-rm` or a Hub id).

The loss sits near 0 by construction (beta=0, one update per batch: the advantages are centred): watch the reward,
which the live line shows with its spread, the completion length and the share of replies cut at the length cap.

Copy it (`trlrecipes cp grpo my-grpo.py`), edit, and run it with `trlrecipes run my-grpo.py key=value ...`,
`python my-grpo.py key=value ...` or `accelerate launch my-grpo.py ...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trlrecipes.errors import UserError
from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.session import Run

METHOD = "GRPO"
TRL_CONFIG = "trl:GRPOConfig"  # trainer=rloo: trl:RLOOConfig (see trl_config)
TRAINERS = {"grpo": ("GRPOConfig", "GRPOTrainer"), "rloo": ("RLOOConfig", "RLOOTrainer")}


def method(cfg: Config) -> str:
    return cfg.trainer.upper()


def trl_config(cfg: Config) -> str:
    """The TRL config class this run's fields pass through to (and `trl.<field>=` settings are checked against)."""
    return f"trl:{TRAINERS[cfg.trainer][0]}"


@dataclass
class Config(LoraSettings):
    # --- data: prompts and the fields their judges read (a .txt/.jsonl prompt file: data_format=prompts) ---
    dataset: str = "openai/gsm8k"  # grade-school maths questions, each with a checkable final number
    data_format: str = "gsm8k"
    subset: str = "main"  # gsm8k: main | socratic (the same questions; its README names no default)
    eval_steps: int = 0  # GRPO evaluates by sampling num_generations replies per held-out prompt: judge them
    # afterwards instead (trlrecipes eval RUN --generate --reward trlrecipes.tasks.gsm8k:verify)
    # --- reward: judges fn(prompt, response, **row_fields) -> float, summed with reward_weights ---
    reward: list[str] = field(default_factory=lambda: ["trlrecipes.tasks.gsm8k:verify"])
    reward_weights: list[float] | None = None  # one per judge (reward_model last); None: 1.0 each (TRL's rule)
    reward_model: str = ""  # a reward-model run folder (trlrecipes run hh-rm) or a Hub id; "" = none
    # --- the online RL method ---
    trainer: str = "grpo"  # grpo | rloo: RLOO's leave-one-out baseline, same arguments (one program, one switch)
    # replies sampled per prompt, the group the advantage is computed in. 8 (TRL's default): a 0/1 reward that a
    # model gets right 1 time in 10 gives a group with no signal (all wrong) 43 % of the time with 8, 66 % with 4
    num_generations: int = 8
    # per_device_train_batch_size counts replies, not prompts: 8 x 4 = 32 replies = 4 prompts x 8 per step; the
    # replies generated at once (x processes) must hold whole groups: a multiple of num_generations (check below)
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 4
    max_completion_length: int = 256  # a worked GSM8K answer fits; the completions_clipped verdict says when not
    temperature: float = 1.0  # sampling spread is the signal: lower makes a group's replies (and rewards) alike
    beta: float = 0.0  # no KL term and no reference pass (TRL's GRPO default; DAPO, Dr. GRPO). RLOO's own 0.05
    # puts a KL penalty in the reward at the cost of a reference pass per step (20 vs 16 s/step measured on CPU)
    loss_type: str = "dapo"  # GRPO only: token-level mean over the batch, no length bias (TRL's default)
    # TRL's GRPO default 1e-6 is for full fine-tuning; LoRA wants ~10x ("LoRA without regret", TRL docs; trl#2872)
    learning_rate: float = 1e-5


def check(cfg: Config) -> None:
    """Settings that cannot work, refused before anything loads (TRL would say so only after loading the model)."""
    if cfg.trainer not in TRAINERS:
        raise UserError(f"trainer must be one of {', '.join(TRAINERS)}, got {cfg.trainer!r}")
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
    judges = len(cfg.reward) + bool(cfg.reward_model)
    if judges == 0:
        raise UserError("no reward: set reward=module:fn (or file.py:fn) and/or reward_model=RUN_DIR")
    if cfg.reward_weights is not None and len(cfg.reward_weights) != judges:
        raise UserError(f"reward_weights has {len(cfg.reward_weights)} value(s) for {judges} reward(s); one each")


def main(cfg: Config, run: Run) -> None:
    import trl

    check(cfg)
    config_name, trainer_name = TRAINERS[cfg.trainer]
    train, evaluation = run.load_prompts(cfg)  # prompt rows + the columns the judges read (answer, constraints...)
    trainer = getattr(trl, trainer_name)(
        model=run.model_path(cfg),
        reward_funcs=run.reward_functions(cfg),  # TRL callables from `reward` (+ `reward_model`), in that order
        args=run.trl_args(getattr(trl, config_name), cfg, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=run.tokenizer(cfg),
        peft_config=run.lora_config(cfg),  # peft.LoraConfig from the lora_* settings, on all linear layers
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=False)  # prompts only: TRL batches whole prompt groups itself


if __name__ == "__main__":
    from trlrecipes.run.launch import main_from_argv

    main_from_argv(__file__)
