"""Reward model with LoRA: a sequence-classification head scores a conversation; trained on the same pairs.

TRL's RewardTrainer puts a one-output linear head (`score`) on the model and trains it with the Bradley-Terry loss
-log sigmoid(r(chosen) - r(rejected)): LoRA on all linear layers plus the new head in full (`modules_to_save`).
One model and no reference pass, two sequences per pair, no LM head (no vocabulary-sized logits). The run folder
is a judge: `trlrecipes synth --reward-model RUN_DIR` scores replies with it. After training, the held-out pairs
are scored once and the pairwise accuracy is printed and written to eval.json.

Copy it (`trlrecipes cp rm my-rm.py`), edit, and run it with `trlrecipes run my-rm.py key=value ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "RM"
TRL_CONFIG = "trl:RewardConfig"  # Config fields named like RewardConfig fields pass through; any other: trl.<field>=


@dataclass
class Config(LoraSettings):
    # TRL's RewardConfig default: the score head starts random and is trained in full, so it needs far more than a
    # policy's 5e-6 (at 5e-6 the head barely moves in a short run)
    learning_rate: float = 1e-4
    # pulls the mean score of each batch towards 0 (Eisenstein et al., 2023; TRL's recommended 0.01), so that a
    # judge's score reads as better or worse than an average reply
    center_rewards_coefficient: float | None = 0.01


def record_eval(run: Run, metrics: dict, pairs: int) -> dict:
    """The held-out pairwise accuracy of TRL's evaluation, printed and written to eval.json."""
    from trlrecipes.hardware import is_main_process

    result = {
        "run": str(run.dir),
        "method": METHOD,
        "data": "the run's held-out pairs",
        "pairs": pairs,
        "criterion": "reward model scores chosen above rejected",
        "accuracy": metrics.get("eval_accuracy"),
        "margin": metrics.get("eval_margin"),
        "loss": metrics.get("eval_loss"),
    }
    if is_main_process():
        run.record.save_evaluation(result)
    run.say(
        f"[eval] reward model on {pairs} held-out pairs: accuracy {result['accuracy']:.3f}, mean margin "
        f"{result['margin']:.3f} (written to {run.dir / 'eval.json'})"
    )
    return result


def main(cfg: Config, run: Run) -> None:
    from trl import RewardConfig, RewardTrainer

    train, evaluation = run.load_data(cfg)  # the format's eval split or file, else a seeded share held out
    trainer = RewardTrainer(
        model=run.model_path(cfg),  # loaded with a fresh one-output head (num_labels=1)
        args=run.trl_args(RewardConfig, cfg, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=run.tokenizer(cfg),
        peft_config=run.lora_config(cfg, task_type="SEQ_CLS", modules_to_save=["score"]),
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)
    if trainer.eval_dataset is not None and run.started:
        record_eval(run, trainer.evaluate(), pairs=len(trainer.eval_dataset))


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
