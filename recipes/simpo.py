"""SimPO with LoRA: reference-free and length-normalised preference training, over TRL's CPOTrainer.

SimPO (Meng et al., 2024) scores a reply by beta times its *average* per-token log-probability and asks the chosen
score to beat the rejected one by a margin gamma. No reference model: one forward pass per pair instead of DPO's two
(like ORPO, ~1/3 less compute per step, no reference activations), and a long reply earns nothing for its length,
which DPO's summed log-ratio rewards. beta is ~25x DPO's because it scales an average over tokens, not a sum.

Copy it (`trlrecipes cp simpo my-simpo.py`), edit, and run it with `trlrecipes run my-simpo.py key=value ...`,
`python my-simpo.py key=value ...` or `accelerate launch my-simpo.py ...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "SimPO"
TRL_CONFIG = "trl.experimental.cpo:CPOConfig"  # TRL 1.x keeps CPO (and its SimPO loss) under trl.experimental


@dataclass
class Config(LoraSettings):
    # The SimPO authors' Llama-3-8B-Instruct config (training_configs/ of princeton-nlp/SimPO); the default model is
    # an instruct model too:
    beta: float = 2.5  # reward = 2.5 x mean token log-prob (their base-model configs use 2.0)
    simpo_gamma: float = 1.375  # target margin gamma = 0.55 x beta, their gamma_beta_ratio for that model
    # 0: pure SimPO. CPO's NLL term on the chosen reply (CPO-SimPO) is cpo_alpha > 0, e.g. 0.2 as the RPO preset
    cpo_alpha: float = 0.0
    # their 1e-6 is for full fine-tuning; LoRA updates a small subspace and wants ~10x more, as DPO's 5e-6
    learning_rate: float = 1e-5


def main(cfg: Config, run: Run) -> None:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # we chose CPO knowing it is experimental in TRL 1.x
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    train, evaluation = run.load_data(cfg)  # the format's eval split or file, else a seeded share held out
    trainer = CPOTrainer(
        model=run.model_path(cfg),
        # CPOTrainer takes no quantization_config: with load_in_4bit it goes into the model's loading arguments
        args=run.trl_args(CPOConfig, cfg, has_eval=evaluation is not None, quantize_on_load=True, loss_type="simpo"),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=run.tokenizer(cfg),
        peft_config=run.lora_config(cfg),  # all linear layers; no reference: the adapters are never disabled
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
