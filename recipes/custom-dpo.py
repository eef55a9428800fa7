"""DPO with LoRA on your own pairs file (.jsonl, .json, .csv or .parquet), with your column names.

Name your columns with prompt_column / chosen_column / rejected_column / system_column. Each column may hold plain
text or a list of {role, content} messages; with message lists that already carry the prompt turns, set
prompt_column="". Without an eval file, a fixed-seed share of your pairs is held out for evaluation.

Run it with `trlrecipes run custom-dpo dataset=my_pairs.jsonl`, or copy it (`trlrecipes cp custom-dpo my-dpo.py`),
set your file and columns below, and run it with `trlrecipes run my-dpo.py`, `python my-dpo.py` or
`accelerate launch my-dpo.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHOD = "DPO"
DATASET = "your file"
TRL_CONFIG = "trl:DPOConfig"  # fields of this class not mirrored below are set as trl.<field>=value


@dataclass
class Config:
    # --- model ---
    model: str = "Qwen/Qwen2.5-0.5B-Instruct"  # small instruct model with a chat template; LoRA DPO fits 8 GB
    precision: str = "auto"  # bf16 on Ampere+ GPUs, fp16 on older GPUs, fp32 on CPU (bf16 there is ~14x slower)
    load_in_4bit: bool = False  # QLoRA (nf4): for 3B+ models on 8-12 GB cards; a 0.5B model does not need it
    trust_remote_code: bool = False  # never run Python code shipped with a Hub model unless you ask for it
    # --- data ---
    dataset: str = ""  # required: path/to/pairs.jsonl (.jsonl.gz, .json, .csv, .parquet), or a Hub id in this layout
    data_format: str = "custom"  # which converter reads `dataset` (see `trlrecipes data convert --help`)
    subset: str = ""  # Hub datasets only: the data folder to load
    split: str = "train"  # Hub datasets only; a local file is read whole
    eval_dataset: str = ""  # a file of held-out pairs in the same layout; empty: hold out eval_share of `dataset`
    eval_split: str = "test"  # Hub datasets only
    eval_share: float = 0.05  # without eval_dataset: hold out 5% of the pairs (seeded) for evaluation; 0 = no eval
    prompt_column: str = "prompt"  # "" when the chosen/rejected message lists already carry the prompt turns
    chosen_column: str = "chosen"
    rejected_column: str = "rejected"
    system_column: str = ""  # a column with a system prompt per row; "" = none
    max_train_rows: int = 0  # 0 = all pairs that are not held out
    max_eval_rows: int = 500  # 500 held-out pairs measure accuracy to about +-2 points in a few minutes
    # --- LoRA: all linear layers so attention and MLP both adapt; alpha = 2r keeps the update scale at 2 ---
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # TRL disables all dropout (trl.disable_dropout) so log-ratios are not noisy: LoRA's too
    # --- DPO ---
    loss_type: str = "sigmoid"  # the DPO paper's loss; "ipo" is more robust when the same pairs are seen again
    beta: float = 0.1  # the DPO paper's default pull towards the reference
    learning_rate: float = 5e-6  # TRL's LoRA DPO example; full fine-tuning wants ~10x lower
    max_length: int = 512  # prompt + reply tokens; longer pairs are truncated (see `trlrecipes data inspect`)
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 4  # 4 x 4 = 16 pairs per optimizer step
    per_device_eval_batch_size: int = 8
    num_train_epochs: float = 1.0  # one pass: DPO overfits quickly on repeated pairs
    max_steps: int = 0  # 0 = run num_train_epochs; set it for a fixed budget
    warmup: float = 0.1  # share of steps spent warming up the learning rate (avoids an early jump away from ref)
    activation_checkpointing: bool = True  # recompute activations: ~30% slower, much less memory on a small GPU
    # batches of pairs of similar length, the groups in random order: 0.91 instead of 0.56 of the computed
    # tokens are real (not padding) on hh-rlhf-like lengths, ~0.6x the time per epoch (benchmarks/)
    group_by_length: bool = True
    logging_steps: int = 10
    eval_steps: int = 100  # a small file is a short run: evaluate often enough to see a trend
    save_steps: int = 100  # a checkpoint every 100 steps (a multiple of logging_steps); the newest 2 are kept
    seed: int = 42  # also picks the held-out pairs: the same seed holds out the same pairs
    output_dir: str = ""  # empty: runs/custom-dpo-<date>-<time>
    report_to: str = "none"  # e.g. "wandb" or "tensorboard"; off so nothing leaves the machine unasked
    verdicts: bool = True  # print and record the health callback's advice
    trl: dict = field(default_factory=dict)  # extra TRL settings, set as trl.<field>=value


def load_data(cfg: Config, run):
    from trlrecipes.errors import UserError

    if not cfg.dataset:
        raise UserError("custom-dpo needs your data file: set dataset=path/to/file.jsonl (or .json, .csv, .parquet)")
    options = None  # the column names are options of the custom converter; other formats take none
    if cfg.data_format == "custom":
        options = {"prompt": cfg.prompt_column or None, "chosen": cfg.chosen_column,
                   "rejected": cfg.rejected_column, "system": cfg.system_column or None}
    if cfg.eval_dataset:
        train = run.load_pairs("train", cfg.data_format, cfg.dataset, split=cfg.split, subset=cfg.subset,
                               max_rows=cfg.max_train_rows, options=options)
        evaluation = run.load_pairs("eval", cfg.data_format, cfg.eval_dataset, split=cfg.eval_split,
                                    subset=cfg.subset, max_rows=cfg.max_eval_rows, options=options)
        return train, evaluation
    # No eval file: convert all pairs, then hold out a fixed-seed share before capping the training rows, so that
    # held-out pairs are never trained on, whatever max_train_rows is.
    pairs = run.load_pairs("train", cfg.data_format, cfg.dataset, split=cfg.split, subset=cfg.subset, options=options)
    return run.hold_out(pairs, cfg.eval_share, seed=cfg.seed, max_train_rows=cfg.max_train_rows,
                        max_eval_rows=cfg.max_eval_rows)


def main(cfg: Config, run) -> None:
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from trlrecipes.hardware import pick_precision, quantization_config
    from trlrecipes.models import resolve_model
    from trlrecipes.run.session import trl_args

    train, evaluation = load_data(cfg, run)
    precision = pick_precision(cfg.precision)
    model_path = resolve_model(cfg.model)
    settings = run.trl_settings(precision, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
                                eval_steps=cfg.eval_steps, has_eval=evaluation is not None, report_to=cfg.report_to)
    settings.update(
        loss_type=cfg.loss_type,
        beta=cfg.beta,
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
    settings.update(cfg.trl)
    trainer = DPOTrainer(
        model=model_path,
        ref_model=None,  # with a peft_config, the reference is the base model with adapters disabled: no copy
        args=trl_args(DPOConfig, settings),
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
