#!/usr/bin/env bash
# One prepared GPU check, no network, under 5 minutes. From the repository root, after `pip install -e .`:
#     bash benchmarks/gpu_check.sh            (extra flags go to benchmarks/gpu_check.py, e.g. --steps 20)
# Prints tokens/s, peak GPU memory and MFU of hh-dpo vs. the plain TRL script (bf16 LoRA and 4-bit QLoRA), GRPO rows
# (transformers generation; vLLM colocate when installed) and a
# reward-accuracy check; writes benchmarks/gpu_results.json (and $OUT/gpu_results.json when $OUT is set).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
PY="${PYTHON:-python}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PY" - <<'PY'
import importlib
for name in ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "trlrecipes"):
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}", end="; ")
    except Exception as err:
        print(f"{name} UNAVAILABLE ({type(err).__name__}: {err})", end="; ")
import torch
print(f"cuda available: {torch.cuda.is_available()}")
PY
exec timeout 295 "$PY" benchmarks/gpu_check.py "$@"
