"""What a run pays for imports before it loads anything: CPU and wall seconds of the imports `recipes/hh-dpo.py`'s
main() makes (peft, transformers, trl's DPOTrainer), with bitsandbytes importable (as before) and deferred (what
`trlrecipes run` does now unless load_in_4bit is set), each in a fresh process, best of N.
Usage: python benchmarks/import_time.py [--repeat 5]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PROBE = r"""
import resource, sys, time
hide = sys.argv[1] == "deferred"
start, cpu0 = time.perf_counter(), time.process_time()
if hide:
    from trlrecipes._compat import defer_bitsandbytes
    defer_bitsandbytes(needed=False)
from peft import LoraConfig  # noqa: F401
from transformers import AutoTokenizer  # noqa: F401
from trl import DPOConfig, DPOTrainer  # noqa: F401
import json
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
                  "bitsandbytes_loaded": sys.modules.get("bitsandbytes") is not None}))
"""


def measure(variant: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE, variant], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits both alike
        for variant in ("as before", "deferred"):
            results.setdefault(variant, []).append(measure(variant))
    load = os.getloadavg()
    print(f"{'bitsandbytes':<12}{'CPU s (best)':>14}{'wall s (best)':>15}{'CPU s (median)':>16}  loaded")
    for variant, rows in results.items():
        cpu = sorted(r["cpu"] for r in rows)
        wall = sorted(r["wall"] for r in rows)
        print(
            f"{variant:<12}{cpu[0]:>14.2f}{wall[0]:>15.2f}{cpu[len(cpu) // 2]:>16.2f}  "
            f"{rows[0]['bitsandbytes_loaded']}"
        )
    best = {variant: min(r["cpu"] for r in rows) for variant, rows in results.items()}
    print(
        f"deferred / as before (CPU, best of {args.repeat}): {best['deferred'] / best['as before']:.2f}x; "
        f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
