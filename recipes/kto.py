"""KTO with LoRA: unpaired thumbs-up / thumbs-down replies; preference pairs are split into one good and one bad row.

KTO (Ethayarajh et al., 2024) scores each reply against a KL estimate taken from mismatched prompt/reply pairs
inside a batch, so a device batch needs at least 2 rows. The desirable/undesirable loss weights follow the class
balance (the KTO paper's rule; 1.0 and 1.0 for split pairs) and are printed at the start. KTO logs rewards/chosen,
rewards/rejected, rewards/margins (batch means) and kl, but no rewards/accuracies: rows are not compared.

Copy it (`trlrecipes cp kto my-kto.py`), edit, and run it with `trlrecipes run my-kto.py key=value ...`,
`python my-kto.py key=value ...` or `accelerate launch my-kto.py ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trlrecipes.run.settings import LoraSettings

if TYPE_CHECKING:
    from trlrecipes.run.lifecycle import Run

METHOD = "KTO"
TRL_CONFIG = "trl:KTOConfig"  # Config fields named like KTOConfig fields pass through; any other one: trl.<field>=


@dataclass
class Config(LoraSettings):
    beta: float = 0.1  # strength of the pull towards the reference; 0.1 is the KTO paper's default
    # TRL's KTOConfig default (1e-6) is for full fine-tuning and TRL finds KTO's best settings close to DPO's: LoRA
    # updates a small subspace and wants ~5x more, so the same 5e-6 as DPO.
    learning_rate: float = 5e-6
    max_train_rows: int = 0  # pairs, before unpairing (each gives 2 KTO rows); 0 = all
    max_eval_rows: int = 500  # pairs: 1,000 held-out KTO rows
    per_device_train_batch_size: int = 8  # rows, not pairs; must be > 1 (the KL estimate pairs rows within a batch)
    gradient_accumulation_steps: int = 4  # 8 x 4 = 32 rows (the data of 16 pairs) per optimizer step, like DPO


def load_data(cfg: Config, run: Run):
    """Preference pairs -> unpaired KTO rows, shuffled with the seed; returns (train, eval, train class balance).

    Unpairing puts each pair's two rows side by side, and KTO trains on the rows in order (its KL estimate pairs
    each row with its batch neighbour's reply); shuffled, a neighbour's reply almost never answers the same prompt."""
    from trlrecipes.data.kto import to_unpaired

    pairs, eval_pairs = run.load_data(cfg)
    train, balance = to_unpaired(pairs)
    evaluation = to_unpaired(eval_pairs)[0].shuffle(seed=cfg.seed) if eval_pairs is not None else None
    return train.shuffle(seed=cfg.seed), evaluation, balance


def main(cfg: Config, run: Run) -> None:
    from trl import KTOConfig, KTOTrainer

    from trlrecipes.data.kto import check_batch, kto_weights

    check_batch(cfg.per_device_train_batch_size)  # before anything loads: one row per batch breaks the KL estimate
    train, evaluation, balance = load_data(cfg, run)
    # The KTO paper keeps (desirable_weight * desirable rows) / (undesirable_weight * undesirable rows) in [1, 4/3];
    # trl.desirable_weight=... / trl.undesirable_weight=... override the rule.
    desirable, undesirable = kto_weights(balance)
    args = run.trl_args(
        KTOConfig, cfg, has_eval=evaluation is not None, desirable_weight=desirable, undesirable_weight=undesirable
    )
    run.say(
        f"[kto] train rows: {balance['desirable']} desirable, {balance['undesirable']} undesirable -> "
        f"desirable_weight={args.desirable_weight}, undesirable_weight={args.undesirable_weight}"
    )
    trainer = KTOTrainer(
        model=run.model_path(cfg),
        ref_model=None,  # as in DPO: the base model with adapters disabled is the reference, never a copy
        args=args,
        processing_class=run.tokenizer(cfg),
        train_dataset=train,
        eval_dataset=evaluation,
        callbacks=run.callbacks(cfg),
        peft_config=run.lora_config(cfg),  # peft.LoraConfig from the lora_* settings, on all linear layers
        quantization_config=run.quantization_config(cfg),  # None unless load_in_4bit (QLoRA)
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.execute import main_from_argv

    main_from_argv(__file__)
