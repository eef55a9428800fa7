"""Helpers shared by the benchmarks: models built from configs, data files, child processes with their peak RSS, step
times read from the metrics.jsonl a run appends to, and `trlrecipes` commands with a verifier's paired figures.

Nothing here downloads anything: models are built from a config with random weights (or the SmolLM2 copy that
`trlrecipes.models` converts from a pip package), data is the hh-rlhf sample in ../shared/data or synthetic rows.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PLAIN = HERE / "plain_trl_dpo.py"
HH_SAMPLE = Path(os.environ.get("TRLRECIPES_HH_SAMPLE", REPO.parent / "shared" / "data" / "hh-rlhf-sample.jsonl"))

# Every child runs offline and quiet; the thread count is left to the machine (torch uses every core).
ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRL_EXPERIMENTAL_SILENCE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "PYTHONWARNINGS": "ignore",
    "TQDM_DISABLE": "1",
}

# SmolLM2-135M's shape (hidden 576, 30 layers, 9 heads / 3 kv heads, vocab 49152, tied embeddings).
SMOL_SHAPE = dict(
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    vocab_size=49152,
)
# Qwen2.5-0.5B's shape (the hh recipes' default model): 494M parameters, vocab 151936, tied embeddings.
QWEN05_SHAPE = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151936,
)
GB = 1e9


def child_env(**extra) -> dict:
    env = {**os.environ, **ENV}
    # The repository first on the path: the checkout is measured even where trlrecipes is not pip-installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def work_folder(path: str | None, prefix: str):
    """(folder, temporary): the folder given (created, kept afterwards), or a new temporary one; call
    `temporary.cleanup()` when done if it is not None."""
    if path:
        work = Path(path).resolve()
        work.mkdir(parents=True, exist_ok=True)
        return work, None
    temporary = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(temporary.name), temporary


def trlrecipes_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "trlrecipes"
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "from trlrecipes.cli import main; main()"]


# --- models ------------------------------------------------------------------------------------------------------
def build_llama(folder: Path, shape: dict, tokenizer=None, *, arch: str = "llama", seed: int = 0) -> Path:
    """Save a randomly initialised causal LM of `shape` with `tokenizer` (default: the tiny offline tokenizer)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    from trlrecipes.testing import build_tiny_tokenizer

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        tokenizer = build_tiny_tokenizer()
    tokenizer.save_pretrained(str(folder))
    shape = dict(shape)
    shape.setdefault("vocab_size", len(tokenizer))
    shape["vocab_size"] = max(shape["vocab_size"], len(tokenizer))
    config_cls, model_cls = (Qwen2Config, Qwen2ForCausalLM) if arch == "qwen2" else (LlamaConfig, LlamaForCausalLM)
    config = config_cls(
        **shape,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(str(folder))
    return folder


def tiny_model(work: Path) -> Path:
    from trlrecipes.testing import build_tiny_model

    folder = work / "tiny"
    return folder if (folder / "config.json").is_file() else build_tiny_model(folder)


def smol_model(work: Path, *, random_weights: bool = False) -> tuple[Path, str]:
    """The 135M model: SmolLM2-135M-Instruct converted by trlrecipes.models if its package is installed (real
    tokenizer and chat template), else a SmolLM2-shaped Llama with random weights and the tiny tokenizer."""
    if not random_weights:
        try:
            from trlrecipes.models import DEMO_MODEL, resolve_model

            return Path(resolve_model(DEMO_MODEL)), "SmolLM2-135M-Instruct (converted offline copy)"
        except Exception as err:  # a missing package: fall back to the config-built model
            print(f"  (SmolLM2 copy unavailable: {err}; using a random SmolLM2-shaped Llama)", flush=True)
    return build_llama(work / "smol-random", SMOL_SHAPE), "SmolLM2-135M-shaped Llama, random weights"


def real_tokenizer_or_tiny():
    """SmolLM2's tokenizer when the offline copy exists (realistic token counts), else the tiny one."""
    try:
        from transformers import AutoTokenizer

        from trlrecipes.models import DEMO_MODEL, resolve_model

        return AutoTokenizer.from_pretrained(resolve_model(DEMO_MODEL)), "SmolLM2 tokenizer"
    except Exception:
        from trlrecipes.testing import build_tiny_tokenizer

        return build_tiny_tokenizer(), "tiny test tokenizer"


# --- data ---------------------------------------------------------------------------------------------------------
_TOPICS = [
    "boil an egg",
    "fix a bike chain",
    "learn to swim",
    "plant tomatoes",
    "write a cover letter",
    "bake bread",
    "sleep better",
    "start running",
    "save money",
    "learn French",
]


def synthetic_hh_rows(count: int, seed: int = 0) -> list[dict]:
    """hh-rlhf-like transcripts with a long-tailed length spread (1-3 turns, replies of 5-120 words)."""
    rng = random.Random(seed)
    words = (
        "the a to and of you it is that for can with this your on be if or are as some not will do "
        "water time help make first then good more try way about they also when one need"
    ).split()
    rows = []
    for i in range(count):
        topic = rng.choice(_TOPICS)
        text = ""
        for turn in range(rng.choice([1, 1, 1, 2, 2, 3])):
            question = f"How do I {topic}? " + " ".join(rng.choices(words, k=int(rng.lognormvariate(2.5, 0.8))))
            answer = " ".join(rng.choices(words, k=int(rng.lognormvariate(3.2, 0.8)) + 3))
            text += f"\n\nHuman: {question} (case {i}.{turn})\n\nAssistant: "
            if turn < 2:
                text += answer
        good = " ".join(rng.choices(words, k=int(rng.lognormvariate(3.5, 0.7)) + 5))
        bad = " ".join(rng.choices(words, k=int(rng.lognormvariate(3.0, 0.9)) + 5))
        base = text.rsplit("\n\nAssistant: ", 1)[0] + "\n\nAssistant: "
        rows.append({"chosen": base + "Sure. " + good, "rejected": base + "No. " + bad})
    return rows


def hh_raw_rows() -> tuple[list[dict], str]:
    if HH_SAMPLE.is_file():
        rows = [json.loads(line) for line in HH_SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows, f"{len(rows)} real hh-rlhf rows ({HH_SAMPLE.name})"
    return synthetic_hh_rows(300), "300 synthetic hh-rlhf-like rows (the shared sample is absent)"


def long_hh_rows(count: int) -> list[dict]:
    """Pairs whose every sequence is longer than 256 tokens of any tokenizer here: with max_length=256 each
    chosen/rejected sequence is truncated to exactly 256 tokens, so memory does not depend on which rows a
    step draws."""
    words = "the quick brown fox jumps over the lazy dog while paris is the capital of france and eggs boil".split()
    rows = []
    for n in range(count):
        prompt = " ".join(words[(n + k) % len(words)] for k in range(60))
        reply = " ".join(words[(2 * n + k) % len(words)] for k in range(400))
        base = f"\n\nHuman: Tell me a long story, number {n}. {prompt}\n\nAssistant: "
        rows.append({"chosen": base + "Sure. " + reply, "rejected": base + "No. " + " ".join(reversed(reply.split()))})
    return rows


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return path


def convert_for_plain(raw: Path, out: Path) -> Path:
    """The hh-rlhf rows in TRL's conversational format, converted exactly as the recipe converts them, for the
    plain TRL script (which has no hh-rlhf parser of its own)."""
    from trlrecipes.data import load_pairs

    dataset, _ = load_pairs("hh-rlhf", str(raw))
    return write_jsonl(out, (dict(row) for row in dataset))


# --- child processes -----------------------------------------------------------------------------------------------
@dataclass
class ChildResult:
    returncode: int
    seconds: float
    peak_rss: int  # bytes: ru_maxrss of the child (the largest of it and any process it waited for)
    # (step, wall seconds since start, CPU seconds of the process so far) when each train log appeared
    log_times: list[tuple[int, float, float]] = field(default_factory=list)
    first_log: float | None = None
    output: str = ""

    def step_time(self, skip: int, cpu: bool = False) -> float | None:
        """Steady-state seconds per optimizer step between the first train log at step >= skip and the last one:
        wall-clock, or (cpu=True) CPU time of the training process (user + system, all its threads), which other
        processes on the machine disturb far less."""
        points = [(s, c if cpu else t) for s, t, c in self.log_times if s >= skip]
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return None
        return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all threads), from /proc; NaN where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return float("nan")


def _watch(path: Path, pid: int, start: float, result: ChildResult, done: threading.Event, interval: float) -> None:
    """Record when each train log line appears in metrics.jsonl (appended and closed once per log event)."""
    seen = 0
    while True:
        finished = done.is_set()
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        except OSError:
            lines = []
        now = time.perf_counter() - start
        cpu = cpu_seconds(pid)
        for line in lines[seen:]:
            try:
                record = json.loads(line)
            except ValueError:
                break  # half-written: read again next time
            seen += 1
            if "loss" in record and "train_runtime" not in record:
                result.log_times.append((int(record["step"]), now, cpu))
                if result.first_log is None:
                    result.first_log = now
        if finished:
            return
        time.sleep(interval)


def run_child(
    cmd: list[str],
    *,
    metrics: Path | None = None,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 900,
    poll: float = 0.01,
) -> ChildResult:
    """Run one command in a fresh process; return its exit code, wall time, peak RSS and train-log times."""
    start = time.perf_counter()
    with open(os.devnull, "rb") as stdin:
        proc = subprocess.Popen(
            cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True
        )
    result = ChildResult(returncode=-1, seconds=0.0, peak_rss=0)
    done = threading.Event()
    watcher = None
    if metrics is not None:
        watcher = threading.Thread(target=_watch, args=(metrics, proc.pid, start, result, done, poll), daemon=True)
        watcher.start()
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    deadline = start + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            chunks.append(f"\n[killed after {timeout:.0f} s]")
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.seconds = time.perf_counter() - start
    reader.join(timeout=10)
    done.set()
    if watcher is not None:
        watcher.join(timeout=10)
    result.returncode = proc.returncode
    result.peak_rss = int(usage.ru_maxrss) * 1024 if usage is not None else 0
    result.output = "".join(chunks)
    return result


def check(result: ChildResult, what: str) -> ChildResult:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}):\n{result.output[-4000:]}")
    return result


# --- reporting -----------------------------------------------------------------------------------------------------
def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_avg() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def training_args_diff(a: Path, b: Path, ignore=("output_dir", "logging_dir", "run_name")) -> list[str]:
    """Fields of two runs' saved TrainingArguments that differ (output folders aside)."""
    import torch

    def load(path):
        return torch.load(path / "training_args.bin", weights_only=False).to_dict()

    try:
        left, right = load(a), load(b)
    except Exception as err:  # a run that saved nothing
        return [f"could not compare training_args.bin ({type(err).__name__})"]
    return sorted(
        f"{k}: {left.get(k)!r} vs {right.get(k)!r}"
        for k in set(left) | set(right)
        if k not in ignore and left.get(k) != right.get(k)
    )


# --- trlrecipes commands and verifier figures (instruction_rounds.py, dpo_vs_grpo.py) ----------------------------
def trlrecipes(*args: str) -> tuple[float, str]:
    """`trlrecipes ARGS` offline in a child process: (wall seconds, stdout); exits with its output when it fails."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "trlrecipes.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    if done.returncode:
        sys.exit(
            f"trlrecipes {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return time.monotonic() - start, done.stdout


def verifier_eval(folder: Path, prompts: Path, verify: str, *, max_new_tokens: int, rows: int, batch_size: int,
                  extra: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """`trlrecipes eval FOLDER --generate` on `prompts` judged by the 0/1 judge `verify`: both sides' accuracy, the
    paired difference with its interval and McNemar's p, the per-kind table, cut shares and reply lengths."""
    seconds, out = trlrecipes(
        "eval", str(folder), "--generate", "--prompts", str(prompts), "--reward", verify,
        "--max-new-tokens", str(max_new_tokens), "--max-rows", str(rows), "--batch-size", str(batch_size),
        "--json", *extra,
    )  # fmt: skip
    result = json.loads(out[out.index("{") :])
    paired = result["paired"]
    return {
        "decoding": result.get("decoding"),
        "prompts": result["prompts"],
        "reference_accuracy": paired["reference_accuracy"],
        "trained_accuracy": paired["trained_accuracy"],
        "difference": paired["accuracy_difference"],
        "ci95": paired["accuracy_difference_ci95"],
        "mcnemar_p": paired.get("mcnemar_p"),
        "only_trained_passed": paired.get("only_trained_passed"),
        "only_reference_passed": paired.get("only_reference_passed"),
        "per_kind": paired.get("per_category", {}),
        "reference_cut_share": result.get("reference_cut_share"),
        "trained_cut_share": result.get("trained_cut_share"),
        "reference_tokens_mean": result.get("reference_tokens_mean"),
        "trained_tokens_mean": result.get("trained_tokens_mean"),
        "seconds": round(seconds, 1),
    }
