"""The settings every method program shares, each default with its reason. A program's `Config` subclasses
`LoraSettings` and adds (or re-declares) only what belongs to its method: loss, beta, learning rate, batch shape.

Fields whose name is also a field of the program's TRL config class (learning_rate, max_length, seed, ...) reach
TRL by that name (`Run.trl_args`); the others are read by the run itself (data, LoRA, precision, intervals).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoraSettings:
    # --- model ---
    model: str = "Qwen/Qwen2.5-0.5B-Instruct"  # small instruct model with a chat template; LoRA training fits 8 GB
    precision: str = "auto"  # bf16 on Ampere+ GPUs, fp16 on older GPUs, fp32 on CPU (bf16 there is ~14x slower)
    load_in_4bit: bool = False  # QLoRA (nf4): for 3B+ models on 8-12 GB cards; a 0.5B model does not need it
    trust_remote_code: bool = False  # never run Python code shipped with a Hub model unless you ask for it
    # --- data (the DPO paper's own dataset by default; presets such as ultrafeedback-dpo change it) ---
    dataset: str = "Anthropic/hh-rlhf"  # Hub id, or a local .jsonl(.gz)/.json/.csv/.parquet in the format's layout
    data_format: str = "hh-rlhf"  # which converter reads `dataset` (see `trlrecipes data convert --help`)
    subset: str = "helpful-base"  # the Hub folder; hh-rlhf: helpful-base | harmless-base | helpful-online | ...
    split: str = ""  # empty: the format's own training split (hh-rlhf "train", UltraFeedback "train_prefs")
    eval_split: str = ""  # empty: the format's own held-out split (hh-rlhf "test", SHP "validation")
    # empty: the format's held-out split of the same Hub dataset, or test*.jsonl beside a local train*.jsonl;
    # formats with no held-out split at all (orca-dpo, custom) hold out eval_share of the pairs (seeded) instead
    eval_dataset: str = ""
    eval_share: float = 0.05  # for those formats: 5 % held out, never trained on; 0 = no evaluation data
    max_train_rows: int = 0  # 0 = all converted pairs (a cap takes the first rows, or a seeded sample if grouped)
    max_eval_rows: int = 500  # 500 held-out pairs measure accuracy to about +-2 points in a few minutes
    # options of data_format's converter, set flat as key=value (e.g. min_score_ratio=3 for shp); each format
    # declares them with their types and defaults (`trlrecipes data convert FORMAT --help`)
    data_options: dict = field(default_factory=dict)
    # --- LoRA: all linear layers so attention and MLP both adapt; alpha = 2r keeps the update scale at 2 ---
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # TRL disables all dropout (trl.disable_dropout) so log-ratios are not noisy: LoRA's too
    # --- batch and schedule ---
    # prompt + reply tokens. On 300 real hh-rlhf rows (SmolLM2 tokenizer) 512 keeps 93 % of pairs whole and drops
    # 3 % whose prompt alone is longer; 1024 keeps all at ~2x the memory. Check yours: `trlrecipes data inspect`.
    max_length: int = 512
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 4  # 4 x 4 = 16 pairs per optimizer step
    per_device_eval_batch_size: int = 8
    num_train_epochs: float = 1.0  # one pass: preference training overfits quickly on repeated pairs
    max_steps: int = 0  # 0 = run num_train_epochs; set it for a fixed budget
    warmup: float = 0.1  # share of steps spent warming up the learning rate (avoids an early jump away from ref)
    activation_checkpointing: bool = True  # recompute activations: ~30% slower, much less memory on a small GPU
    # batches of pairs of similar length, the groups in random order: 0.91 instead of 0.56 of the computed
    # tokens are real (not padding) on hh-rlhf-like lengths, ~0.6x the time per epoch (benchmarks/)
    group_by_length: bool = True
    # --- logging, checkpoints, output ---
    logging_steps: int = 10
    eval_steps: int = 200  # 0 = no evaluation during training (evaluate afterwards: trlrecipes eval)
    save_steps: int = 200  # a checkpoint every 200 steps (a multiple of logging_steps); the newest 2 are kept
    seed: int = 42  # also picks held-out and sampled pairs: the same seed holds out the same pairs
    output_dir: str = ""  # empty: runs/<recipe>-<date>-<time>
    report_to: str = "none"  # e.g. "wandb" or "tensorboard"; off so nothing leaves the machine unasked
    verdicts: bool = True  # print and record the health callback's advice
    trl: dict = field(default_factory=dict)  # any other TRL setting, as trl.<field>=value
