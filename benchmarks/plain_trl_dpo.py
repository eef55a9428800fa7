"""The baseline: a plain, hand-written TRL DPO script with the settings `trlrecipes run hh-dpo` uses.

It is what a user would write without trlrecipes: load pairs that are already in TRL's conversational format
(a JSON-lines file of {"prompt": [...], "chosen": [...], "rejected": [...]}), build a DPOConfig and a DPOTrainer
with a LoRA config, train, save. The only addition is a five-line callback that appends every log event to
`<output_dir>/metrics.jsonl`, because the benchmark times steps by watching that file in both programs.

The defaults mirror recipes/hh-dpo.py and trlrecipes.run.lifecycle.Run.trl_settings; benchmarks/run.py checks that
the two runs' saved training_args.bin agree field by field, so a drift between them shows up as a note.

    python benchmarks/plain_trl_dpo.py --model PATH --data pairs.jsonl --output-dir OUT [--max-steps 10 ...]

Variants used by the memory row: --full-ft (no LoRA; TRL then loads a separate frozen reference copy),
--no-activation-checkpointing, --precompute-ref, --head-chunk N (vocabulary chunk of TRL's fused LM head).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="JSON lines in TRL's conversational preference format")
    p.add_argument("--eval-data", default="", help="held-out pairs in the same format (evaluated every --eval-steps)")
    p.add_argument("--eval-steps", type=int, default=200)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    p.add_argument("--load-in-4bit", action="store_true", help="QLoRA: 4-bit NF4 base weights (bitsandbytes)")
    p.add_argument("--full-ft", action="store_true", help="full fine-tuning, separate frozen reference copy")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--loss-type", default="sigmoid")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--learning-rate", type=float, default=5e-6)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch", type=int, default=4, help="per-device train batch size (pairs)")
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--eval-batch", type=int, default=8)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--no-activation-checkpointing", dest="activation_checkpointing", action="store_false")
    p.add_argument("--precompute-ref", action="store_true", help="precompute_ref_log_probs=True")
    p.add_argument(
        "--head-chunk", type=int, default=0, help="vocabulary chunk of TRL's fused log-prob head (0: TRL's own, 32768)"
    )
    p.add_argument(
        "--length-groups",
        action="store_true",
        help="length-grouped batches in shuffled order (trlrecipes.data.batching, the recipes' default)",
    )
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer, BitsAndBytesConfig, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    if args.head_chunk:
        import trl.trainer.utils

        trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE = args.head_chunk

    on_gpu = torch.cuda.is_available()
    precision = args.precision
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if on_gpu else "fp32"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]

    class JsonlLog(TrainerCallback):
        def on_log(self, targs, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                with open(Path(targs.output_dir) / "metrics.jsonl", "a") as f:
                    f.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    train = load_dataset("json", data_files=args.data, split="train")
    evaluation = load_dataset("json", data_files=args.eval_data, split="train") if args.eval_data else None
    config = DPOConfig(
        output_dir=args.output_dir,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not on_gpu,
        logging_steps=args.logging_steps,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        eval_strategy="steps" if evaluation is not None else "no",
        eval_steps=args.eval_steps if evaluation is not None else None,
        report_to=[],
        disable_tqdm=True,
        loss_type=args.loss_type,
        beta=args.beta,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=args.grad_accum,
        per_device_eval_batch_size=args.eval_batch,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        warmup_steps=args.warmup,
        activation_checkpointing=args.activation_checkpointing,
        precompute_ref_log_probs=args.precompute_ref,
        seed=args.seed,
        model_init_kwargs={"dtype": dtype, "trust_remote_code": False},
    )
    quantization = None
    if args.load_in_4bit:
        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
    peft_config = (
        None
        if args.full_ft
        else LoraConfig(
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    )
    trainer = DPOTrainer(
        model=args.model,
        ref_model=None,
        args=config,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=AutoTokenizer.from_pretrained(args.model),
        peft_config=peft_config,
        quantization_config=quantization,
        callbacks=[JsonlLog()],
    )
    if args.length_groups:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from trlrecipes.data.batching import use_length_groups

        use_length_groups(trainer)
    trainer.train()
    trainer.save_model(args.output_dir)
    if os.environ.get("RANK", "0") == "0":
        print(f"saved in {args.output_dir}", flush=True)


if __name__ == "__main__":
    main()
