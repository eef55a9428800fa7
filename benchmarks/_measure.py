"""Run a script (or the trlrecipes CLI) in this process and print its peak memory when it exits.

    python benchmarks/_measure.py SCRIPT.py ARGS...     # runs SCRIPT.py as __main__
    python benchmarks/_measure.py --cli ARGS...         # runs `trlrecipes ARGS...`

The last line printed is `PEAK_MEMORY {"ru_maxrss": bytes, "cuda_max_allocated": bytes, "cuda_max_reserved": bytes}`
(the CUDA fields only when CUDA was used). Both programs of a comparison go through this same launcher.
"""

from __future__ import annotations

import atexit
import json
import resource
import runpy
import sys


def _report() -> None:
    out = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            out["cuda_max_allocated"] = torch.cuda.max_memory_allocated()
            out["cuda_max_reserved"] = torch.cuda.max_memory_reserved()
    except Exception as err:  # never hide the program's own exit status
        out["cuda_error"] = f"{type(err).__name__}: {err}"
    print("PEAK_MEMORY " + json.dumps(out), flush=True)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    atexit.register(_report)
    if sys.argv[1] == "--cli":
        sys.argv = ["trlrecipes", *sys.argv[2:]]
        from trlrecipes.cli import main as cli_main

        sys.exit(cli_main())
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
