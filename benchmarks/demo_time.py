"""Wall time of `trlrecipes run RECIPE --demo` on this machine, cold (model conversion included) and warm, with
the held-out accuracy and margin the demo prints. Usage: python benchmarks/demo_time.py [--recipes hh-dpo ...]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_demo(recipe: str, work: Path, cache: Path) -> dict:
    out = work / f"{recipe}-{int(time.time())}"
    env = {**os.environ, "TRLRECIPES_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "trlrecipes.cli", "run", recipe, "--demo", f"output_dir={out}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{recipe} --demo failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads((out / "eval.json").read_text())
    return {
        "recipe": recipe,
        "wall_s": round(wall, 1),
        "accuracy": result["accuracy"],
        "margin": result.get("margin"),
        "base_accuracy": result.get("base_accuracy", 0.0),
        "odds_accuracy": result.get("odds_accuracy"),
        "base_odds_accuracy": result.get("base_odds_accuracy"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipes", nargs="+", default=["hh-dpo"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work, cache = Path(tmp), Path(tmp) / "cache"
        for index, recipe in enumerate(args.recipes):
            row = run_demo(recipe, work, cache)
            row["model_conversion"] = "included (cold cache)" if index == 0 else "cached"
            rows.append(row)
    load = os.getloadavg()
    print(f"{'recipe':<10}{'wall s':>8}  {'conversion':<22}{'acc ref->trained':>18}{'margin':>9}")
    for row in rows:
        before = row["base_accuracy"] or 0.0
        margin = f"{row['margin']:.3f}" if row["margin"] is not None else "-"
        print(
            f"{row['recipe']:<10}{row['wall_s']:>8.1f}  {row['model_conversion']:<22}"
            f"{before:>8.2f} -> {row['accuracy']:.2f}{margin:>9}"
        )
    print(f"target: under 240 s on 2 CPU cores, cold; load average after: {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    (HERE / "demo_results.json").write_text(
        json.dumps({"rows": rows, "cpus": os.cpu_count(), "load_after": load}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
