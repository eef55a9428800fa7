"""The one model loader of the tools (eval, generate, synth, `--reward-model` checkpoints): a base model,
optionally with a run's LoRA adapter on top, with one precision rule and one pad-token fix-up.

Precision: the training rule (`hardware.pick_precision`: bf16 on Ampere+ GPUs, fp16 on older ones, fp32 on CPU)
unless a caller passes a dtype. Pad token: the EOS token when the tokenizer has none, and the model's config told
the same id (batched scoring and generation pad). Two loaders stay apart on purpose: `merge` loads on CPU in the
checkpoint's own dtype without the pad fix-up (it saves the model and tokenizer, which must stay the base's), and a
reward-model run folder (tools/judge.py) needs its base loaded with one output before the adapter.
"""

from __future__ import annotations

from pathlib import Path

from trlrecipes.errors import UserError

KINDS = ("causal-lm", "reward")


def load_model(
    name_or_path: str,
    *,
    kind: str = "causal-lm",
    precision: str = "auto",
    dtype=None,
    adapter: str | Path | None = None,
    trust_remote_code: bool = False,
    device: str | None = None,
    padding_side: str | None = None,
    what: str = "model",
):
    """(model, tokenizer), in eval mode on `device` (the GPU when there is one).

    `kind`: "causal-lm" or "reward" (a sequence-classification model). `adapter`: a folder with a PEFT adapter
    (a run folder); its tokenizer is used when it saved one. `what` names the setting in error messages."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from trlrecipes.hardware import pick_precision
    from trlrecipes.models import resolve_model

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    path = resolve_model(name_or_path)
    tokenizer_dir = Path(adapter) if adapter and (Path(adapter) / "tokenizer_config.json").is_file() else path
    model_class = AutoModelForCausalLM if kind == "causal-lm" else AutoModelForSequenceClassification
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=trust_remote_code)
        model = model_class.from_pretrained(
            path, dtype=dtype or pick_precision(precision).torch_dtype, trust_remote_code=trust_remote_code
        )
    except OSError as err:
        raise UserError(
            f"{what} {name_or_path!r} could not be loaded ({str(err).splitlines()[0]}); pass a local "
            f"model folder, the offline alias smollm2-135m-offline, or check your network"
        ) from err
    if padding_side:
        tokenizer.padding_side = padding_side
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return ready(model, tokenizer, device=device)


def ready(model, tokenizer, *, device: str | None = None):
    """The fix-ups every loaded model gets: the pad token (EOS when the tokenizer has none, the same id in the
    model's config), eval mode, and `device` (the GPU when there is one)."""
    import torch

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
    return model, tokenizer


# --- a run folder's model ----------------------------------------------------------------------------------------


def open_run(run_dir: Path) -> dict:
    """The run's config.yaml, once the folder is known to hold what eval, generate and merge load: a readable
    config naming the base model, a whole adapter, and a base model that is still where the run found it (model
    folders get moved). Each problem is one line naming the file; nothing heavy is loaded here."""
    import json
    import sys

    import yaml

    from trlrecipes.models import check_model, check_weights, looks_local
    from trlrecipes.run import folder as run_folder
    from trlrecipes.run.record import CONFIG

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a trlrecipes run folder (it does not exist); pass the folder a run wrote")
    path = run_dir / CONFIG
    if not path.is_file():
        raise UserError(f"{run_dir}: not a trlrecipes run folder (no {CONFIG})")
    try:
        cfg = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError(
            f"{path}: not a readable YAML config ({str(err).splitlines()[0]}); restore the file the run wrote"
        ) from err
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: holds no config mapping; restore the file the run wrote")
    warning = run_folder.unfinished(run_dir)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    adapter_config = run_dir / "adapter_config.json"
    if not adapter_config.is_file():
        raise UserError(
            f"{run_dir}: holds no trained adapter yet (adapter_config.json missing); finish or resume the run first"
        )
    try:
        if not isinstance(json.loads(adapter_config.read_bytes().decode("utf-8")), dict):
            raise ValueError("not a JSON object")
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(
            f"{adapter_config} is damaged ({str(err).splitlines()[0]}); copy the run folder again or resume the run"
        ) from err
    check_weights(
        run_dir,
        subject=str(run_dir),
        prefix="adapter_model",
        kind="trained adapter",
        fix="copy the run folder again, or resume the run to save it anew",
    )
    model = cfg.get("model")
    if not model or not isinstance(model, str):
        raise UserError(f"{path}: has no 'model' key, so the base model is unknown; add model: <folder or Hub id>")
    if looks_local(model) and not Path(model).expanduser().exists():
        raise UserError(
            f"{path}: the run's base model {model} is not there any more (folder not found); if it moved, "
            f"set model: in that file to its new place"
        )
    check_model(
        model,
        subject=f"{run_dir}: base model {model} (model: in {CONFIG})",
        trust_remote_code=bool(cfg.get("trust_remote_code", False)),
        trust_flag=f"set trust_remote_code: true in {path}",
    )
    return cfg


def check_policy_run(run_dir: Path, command: str) -> None:
    """A reward model's run folder has no policy: generating from it (or merging it into a language model) would
    run the base model under a score head's adapter. Say what to do instead."""
    from trlrecipes.run.record import RunRecord

    if RunRecord(run_dir).method == "RM":
        raise UserError(
            f"{run_dir} is a reward model's run: it scores replies, it does not write them, so `{command}` has "
            f"nothing to run; judge another run's replies with it: trlrecipes eval OTHER_RUN --generate "
            f"--reward-model {run_dir}"
        )


def load_policy(run_dir: Path, cfg: dict):
    """The base model with the run's adapter and the run's tokenizer (the run's precision rule: fp32 on CPU,
    bf16/fp16 on a GPU)."""
    return load_model(
        cfg["model"],
        precision=cfg.get("precision", "auto"),
        adapter=run_dir,
        trust_remote_code=bool(cfg.get("trust_remote_code", False)),
        what="the run's base model",
    )
