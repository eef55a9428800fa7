"""SFT with LoRA on the chosen replies of preference pairs: the stage before DPO when you start from a base model.

The DPO paper fine-tunes on the preferred replies first, so that the pairs are in-distribution for the model DPO
starts from (and uses as its reference). Each pair becomes one conversation: its prompt and the *chosen* reply; the
loss covers the reply tokens only (TRL's prompt/completion format). One model, one forward pass per conversation
of one reply: about half a DPO step's compute and no reference pass.

Two stages: `trlrecipes run hh-sft output_dir=runs/sft`, `trlrecipes merge runs/sft --output runs/sft-merged`, then
`trlrecipes run hh-dpo model=runs/sft-merged`: DPO's reference (its adapters disabled) is then the SFT model.
Copy it (`trlrecipes cp sft my-sft.py`), edit, and run it with `trlrecipes run my-sft.py key=value ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "SFT"
TRL_CONFIG = "trl:SFTConfig"  # Config fields named like SFTConfig fields pass through; any other one: trl.<field>=


@dataclass
class Config(LoraSettings):
    # TRL's SFT default (2e-5) is for full fine-tuning; LoRA wants ~10x more: the QLoRA paper's 1e-4 (its large
    # models; 2e-4 for 7B)
    learning_rate: float = 1e-4


def to_completions(pairs):
    """Preference pairs -> prompt/completion conversations ending in the chosen reply (the rejected one is dropped)."""
    return None if pairs is None else pairs.remove_columns("rejected").rename_column("chosen", "completion")


def main(cfg: Config, run: Run) -> None:
    from trl import SFTConfig, SFTTrainer

    train, evaluation = (to_completions(pairs) for pairs in run.load_data(cfg))  # the same pairs DPO would use
    trainer = SFTTrainer(
        model=run.model_path(cfg),
        processing_class=run.tokenizer(cfg),  # its chat template renders prompt + reply; loss on the reply only
        peft_config=run.lora_config(cfg),  # all linear layers
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
        args=run.trl_args(SFTConfig, cfg, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
