"""ORPO with LoRA: supervised fine-tuning on the chosen reply and preference in one loss, no reference model.

ORPO adds a log-odds-ratio penalty (weight beta, the paper's lambda) to the language-modelling loss on the chosen
reply, so there is no reference forward pass: less memory and ~1/3 less compute per step than DPO, and it can
start from a base (not instruct) model.

Copy it (`trlrecipes cp orpo my-orpo.py`), edit, and run it with `trlrecipes run my-orpo.py key=value ...`,
`python my-orpo.py key=value ...` or `accelerate launch my-orpo.py ...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "ORPO"
TRL_CONFIG = "trl.experimental.orpo:ORPOConfig"  # TRL 1.x keeps ORPO under trl.experimental


@dataclass
class Config(LoraSettings):
    beta: float = 0.1  # lambda, the weight of the odds-ratio term against the SFT loss; 0.1 is the paper's choice
    learning_rate: float = 2e-5  # ORPO also fine-tunes on chosen (SFT), which needs more than DPO's 5e-6 with LoRA


def main(cfg: Config, run: Run) -> None:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # we chose ORPO knowing it is experimental in TRL 1.x
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    train, evaluation = run.load_data(cfg)  # the format's eval split or file, else a seeded share held out
    trainer = ORPOTrainer(
        model=run.model_path(cfg),
        # ORPOTrainer takes no quantization_config: with load_in_4bit it goes into the model's loading arguments
        args=run.trl_args(ORPOConfig, cfg, has_eval=evaluation is not None, quantize_on_load=True),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=run.tokenizer(cfg),
        peft_config=run.lora_config(cfg),  # peft.LoraConfig from the lora_* settings, on all linear layers
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
