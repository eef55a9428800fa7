"""DPO with LoRA: preference pairs, reference = the base model with its adapters disabled (no second copy).

DPO raises the policy/reference log-ratio of the chosen reply over the rejected one; beta sets how hard the pull
towards the reference is. `loss_type=ipo` gives IPO (preset hh-ipo): a squared loss that regresses the gap to
1/(2*beta) instead of pushing it up without bound, so it overfits less on pairs seen again. A list mixes TRL's
losses with `loss_weights`: `loss_type=sigmoid,sft loss_weights=1.0,0.2` adds an SFT term on the chosen reply (RPO,
preset hh-rpo), which keeps DPO from lowering the likelihood of the answers it prefers.

Defaults train on Anthropic hh-rlhf (helpful-base), the DPO paper's dataset; the presets (`trlrecipes ls`) change
the data. Copy it (`trlrecipes cp dpo my-dpo.py`), edit, and run it with `trlrecipes run my-dpo.py key=value ...`,
`python my-dpo.py key=value ...` or `accelerate launch my-dpo.py ...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "DPO"
TRL_CONFIG = "trl:DPOConfig"  # Config fields named like DPOConfig fields pass through; any other one: trl.<field>=
# --demo (refines the shared CPU demo settings): 10 steps at 3e-4 took held-out accuracy from 0 (ties) to 0.97,
# margin 1.06, in a third of the training time of 30 steps at 1e-4 (0.97, margin 1.10); benchmarks/RESULTS.md
DEMO = {"max_steps": 10, "learning_rate": 3e-4, "save_steps": 5}


def method(cfg: Config) -> str:
    if list(cfg.loss_type) == ["ipo"]:
        return "IPO"
    return "RPO" if "sft" in cfg.loss_type and len(cfg.loss_type) > 1 else METHOD


@dataclass
class Config(LoraSettings):
    # the DPO paper's loss; ipo for IPO (then beta is the paper's tau); a list (sigmoid,sft) is a weighted mixture
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None  # one weight per loss_type; None: 1.0 each (TRL's rule)
    beta: float = 0.1  # strength of the pull towards the reference; 0.1 is the DPO paper's hh-rlhf setting
    learning_rate: float = 5e-6  # TRL's LoRA DPO example; full fine-tuning wants ~10x lower


def main(cfg: Config, run: Run) -> None:
    from trl import DPOConfig, DPOTrainer

    train, evaluation = run.load_data(cfg)  # the format's eval split or file, else a seeded share held out
    trainer = DPOTrainer(
        model=run.model_path(cfg),
        ref_model=None,  # with a peft_config, the reference is the base model with adapters disabled: no copy
        args=run.trl_args(DPOConfig, cfg, has_eval=evaluation is not None),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=run.tokenizer(cfg),
        peft_config=run.lora_config(cfg),  # peft.LoraConfig from the lora_* settings, on all linear layers
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
        callbacks=run.callbacks(cfg),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
