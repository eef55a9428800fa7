"""KTO with LoRA on Anthropic hh-rlhf (helpful-base), its pairs split into unpaired good and bad replies.

KTO (Ethayarajh et al., 2024) learns from unpaired thumbs-up / thumbs-down examples. Here every hh-rlhf pair is split
into a desirable row (its chosen reply) and an undesirable row (its rejected reply), so the run is comparable with
hh-dpo. The desirable/undesirable loss weights follow the class balance (the KTO paper's rule; 1.0 and 1.0 for
pairs) and are printed at the start. KTO measures each reply against a KL estimate taken from mismatched
prompt/reply pairs inside a batch, so a device batch needs at least 2 rows. It logs rewards/chosen,
rewards/rejected and rewards/margins (batch means) and kl, but no rewards/accuracies: rows are not compared.

Copy it (`trlrecipes cp hh-kto my-kto.py`), edit the defaults below, and run it with
`trlrecipes run my-kto.py key=value ...`, `python my-kto.py key=value ...` or `accelerate launch my-kto.py ...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHOD = "KTO"
DATASET = "Anthropic/hh-rlhf"
TRL_CONFIG = "trl:KTOConfig"  # fields of this class not mirrored below are set as trl.<field>=value


@dataclass
class Config:
    # --- model ---
    model: str = "Qwen/Qwen2.5-0.5B-Instruct"  # small instruct model with a chat template; LoRA KTO fits 8 GB
    precision: str = "auto"  # bf16 on Ampere+ GPUs, fp16 on older GPUs, fp32 on CPU (bf16 there is ~14x slower)
    load_in_4bit: bool = False  # QLoRA (nf4): for 3B+ models on 8-12 GB cards; a 0.5B model does not need it
    trust_remote_code: bool = False  # never run Python code shipped with a Hub model unless you ask for it
    # --- data ---
    dataset: str = "Anthropic/hh-rlhf"  # Hub id, or a local .jsonl / .jsonl.gz from the hh-rlhf GitHub repository
    data_format: str = "hh-rlhf"  # which converter reads `dataset` (see `trlrecipes data convert --help`)
    subset: str = "helpful-base"  # helpful-base | harmless-base | helpful-online | helpful-rejection-sampled
    split: str = "train"
    eval_dataset: str = ""  # empty: the same Hub dataset's test split, or test.jsonl(.gz) beside a local train file
    eval_split: str = "test"
    max_train_rows: int = 0  # pairs, before unpairing (each gives 2 KTO rows); 0 = all ~43k helpful-base pairs
    max_eval_rows: int = 500  # pairs: 1,000 held-out KTO rows
    # --- LoRA: all linear layers so attention and MLP both adapt; alpha = 2r keeps the update scale at 2 ---
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # TRL disables all dropout (trl.disable_dropout) so log-ratios are not noisy: LoRA's too
    # --- KTO (desirable/undesirable weights come from the class balance; override with trl.desirable_weight=...) ---
    beta: float = 0.1  # strength of the pull towards the reference; 0.1 is the KTO paper's default
    # TRL's KTOConfig default (1e-6) is for full fine-tuning and TRL finds KTO's best settings close to DPO's: LoRA
    # updates a small subspace and wants ~5x more, so we use the same 5e-6 as hh-dpo.
    learning_rate: float = 5e-6
    # prompt + reply tokens. On 300 real hh-rlhf rows (SmolLM2 tokenizer) 512 keeps 93 % of pairs whole and drops
    # 3 % whose prompt alone is longer; 1024 keeps all at ~2x the memory. Check yours: `trlrecipes data inspect`.
    max_length: int = 512
    per_device_train_batch_size: int = 8  # rows, not pairs; must be > 1 (the KL estimate pairs rows within a batch)
    gradient_accumulation_steps: int = 4  # 8 x 4 = 32 rows (the data of 16 pairs) per optimizer step, like hh-dpo
    per_device_eval_batch_size: int = 8
    num_train_epochs: float = 1.0  # one pass over the unpaired rows
    max_steps: int = 0  # 0 = run num_train_epochs; set it for a fixed budget
    warmup: float = 0.1  # share of steps spent warming up the learning rate (avoids an early jump away from ref)
    activation_checkpointing: bool = True  # recompute activations: ~30% slower, much less memory on a small GPU
    # batches of rows of similar length, the groups in random order: 0.91 instead of 0.56 of the computed
    # tokens are real (not padding) on hh-rlhf-like lengths, ~0.6x the time per epoch (benchmarks/)
    group_by_length: bool = True
    logging_steps: int = 10
    eval_steps: int = 200  # 0 = no evaluation during training (evaluate afterwards: trlrecipes eval)
    save_steps: int = 200  # a checkpoint every 200 steps (a multiple of logging_steps); the newest 2 are kept
    seed: int = 42  # also fixes the order of the unpaired rows
    output_dir: str = ""  # empty: runs/hh-kto-<date>-<time>
    report_to: str = "none"  # e.g. "wandb" or "tensorboard"; off so nothing leaves the machine unasked
    verdicts: bool = True  # print and record the health callback's advice
    trl: dict = field(default_factory=dict)  # extra TRL settings, set as trl.<field>=value


def load_data(cfg: Config, run):
    """Preference pairs -> unpaired KTO rows; returns (train, eval, train class balance)."""
    from trlrecipes.data.common import default_eval_source
    from trlrecipes.data.kto import to_unpaired

    pairs = run.load_pairs("train", cfg.data_format, cfg.dataset, split=cfg.split, subset=cfg.subset,
                           max_rows=cfg.max_train_rows)
    # Unpairing puts each pair's two rows side by side, and KTO trains on the rows in order (it has to: the KL
    # estimate pairs each row with its batch neighbour's reply). Shuffled with the seed, a neighbour's reply almost
    # never answers the same prompt, which the KL estimate needs.
    train, balance = to_unpaired(pairs)
    train = train.shuffle(seed=cfg.seed)
    eval_source = cfg.eval_dataset or default_eval_source(cfg.dataset)
    evaluation = None
    if eval_source:
        eval_pairs = run.load_pairs("eval", cfg.data_format, eval_source, split=cfg.eval_split, subset=cfg.subset,
                                    max_rows=cfg.max_eval_rows)
        evaluation, _ = to_unpaired(eval_pairs)
        evaluation = evaluation.shuffle(seed=cfg.seed)
    return train, evaluation, balance


def main(cfg: Config, run) -> None:
    from trlrecipes.errors import UserError

    # Checked before anything is loaded: with one row per device batch, the KL estimate would be the row's own reward.
    if cfg.per_device_train_batch_size < 2:
        raise UserError(f"per_device_train_batch_size={cfg.per_device_train_batch_size}: KTO needs at least 2 rows "
                        f"per device batch (its KL estimate pairs each prompt with another row's reply); use 2 or more "
                        f"and lower gradient_accumulation_steps to keep the effective batch")

    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    from trlrecipes.data.kto import kto_weights
    from trlrecipes.hardware import is_main_process, pick_precision, quantization_config
    from trlrecipes.models import resolve_model
    from trlrecipes.run.session import trl_args

    train, evaluation, balance = load_data(cfg, run)
    # The KTO paper keeps (desirable_weight * desirable rows) / (undesirable_weight * undesirable rows) in [1, 4/3].
    desirable_weight, undesirable_weight = kto_weights(balance)
    precision = pick_precision(cfg.precision)
    model_path = resolve_model(cfg.model)
    settings = run.trl_settings(precision, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
                                eval_steps=cfg.eval_steps, has_eval=evaluation is not None, report_to=cfg.report_to)
    settings.update(
        beta=cfg.beta,
        desirable_weight=desirable_weight,
        undesirable_weight=undesirable_weight,
        learning_rate=cfg.learning_rate,
        max_length=cfg.max_length,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps or -1,
        warmup_steps=cfg.warmup,  # below 1: a share of the total steps
        activation_checkpointing=cfg.activation_checkpointing,
        seed=cfg.seed,
        model_init_kwargs={"dtype": precision.torch_dtype, "trust_remote_code": cfg.trust_remote_code},
    )
    settings.update(cfg.trl)  # trl.desirable_weight=... / trl.undesirable_weight=... override the balance rule
    if is_main_process():
        print(f"[kto] train rows: {balance['desirable']} desirable, {balance['undesirable']} undesirable -> "
              f"desirable_weight={settings['desirable_weight']}, undesirable_weight={settings['undesirable_weight']}",
              flush=True)
    trainer = KTOTrainer(
        model=model_path,
        ref_model=None,  # with a peft_config, the reference is the base model with adapters disabled: no copy
        args=trl_args(KTOConfig, settings),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=AutoTokenizer.from_pretrained(model_path, trust_remote_code=cfg.trust_remote_code),
        peft_config=LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                               target_modules="all-linear", task_type="CAUSAL_LM"),
        quantization_config=quantization_config(precision) if cfg.load_in_4bit else None,
        callbacks=run.callbacks(verdicts=cfg.verdicts),
    )
    run.train(trainer, group_by_length=cfg.group_by_length)


if __name__ == "__main__":
    from trlrecipes.run.launch import main_from_argv

    main_from_argv(__file__)
