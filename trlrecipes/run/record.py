"""`RunRecord`: the one reader and writer of a run folder's records.

A run folder holds what trained (the adapter, checkpoints: `run/folder.py` decides which checkpoint is good) and
what the run wrote about itself, which every command reads back:

    config.yaml          the resolved settings (secrets redacted)               written when training starts
    trl_config.json      the TRL config as the trainer received it              written when training starts
    program.py           the method program that ran, preset.yaml its preset    written when training starts
    run.json             recipe, method, description, versions, command, data
                         and base-model fingerprints, status                     started, then updated
    data_summary.json    rows read / converted / skipped per split               written when training starts
    metrics.jsonl, summary.json, verdicts.json, metrics.png                      the health monitor (monitor/)
    eval.json            `trlrecipes eval` figures; "generation" (eval --generate), "bench" (eval --bench)
    eval_pairs.jsonl, eval_generations.jsonl, demo_answers.jsonl                per-row evaluation output
    README.md            the model card (run/card.py)

Reading never fails: a missing or unreadable file reads as empty, and the commands that need a file to be right
(eval, generate, merge, resume) check it themselves and say which file to fix. Every write goes through
`trlrecipes.files` (temporary file + rename in the folder, never through a symlink). The run's status has one
writer, `set_status`.
"""

from __future__ import annotations

import json
from pathlib import Path

from trlrecipes import files

CONFIG = "config.yaml"
TRL_CONFIG = "trl_config.json"
PROGRAM = "program.py"  # the method program that ran
PRESET = "preset.yaml"  # and its preset, when the run named one
INFO = "run.json"
DATA_SUMMARY = "data_summary.json"
METRICS = "metrics.jsonl"
PLOT = "metrics.png"
SUMMARY = "summary.json"
VERDICTS = "verdicts.json"
EVAL = "eval.json"
EVAL_PAIRS = "eval_pairs.jsonl"
GENERATIONS = "eval_generations.jsonl"
DEMO_ANSWERS = "demo_answers.jsonl"
CARD = "README.md"
# How a run can end; "running" while it trains (or when the process died: see folder.unfinished).
STATUSES = ("running", "completed", "interrupted", "failed", "diverged")


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def read_jsonl(path: Path) -> list[dict]:
    """The JSON-object lines of a file; lines that are not (a line cut short by a crash) are left out."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class RunRecord:
    def __init__(self, folder: str | Path):
        self.dir = Path(folder)

    def path(self, name: str) -> Path:
        return self.dir / name

    def has(self, name: str) -> bool:
        return self.path(name).is_file()

    # --- reading ------------------------------------------------------------------------------------------------
    def _mapping(self, name: str) -> dict:
        value = read_json(self.path(name), {})
        return value if isinstance(value, dict) else {}

    def info(self) -> dict:
        return self._mapping(INFO)

    def config(self) -> dict:
        """config.yaml as a mapping ({} when missing or unreadable; see `tools/eval/loading` for the strict read)."""
        import yaml

        try:
            cfg = yaml.safe_load(self.path(CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            return {}
        return cfg if isinstance(cfg, dict) else {}

    def data_summary(self) -> dict:
        return self._mapping(DATA_SUMMARY)

    def summary(self) -> dict:
        return self._mapping(SUMMARY)

    def verdicts(self) -> list:
        value = read_json(self.path(VERDICTS), [])
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def evaluation(self) -> dict:
        return self._mapping(EVAL)

    def rows(self, name: str) -> list[dict]:
        return read_jsonl(self.path(name))

    @property
    def method(self) -> str:
        """DPO/IPO/ORPO/KTO/GRPO/..., as the run recorded it when it started (DPO for folders that predate it)."""
        method = self.info().get("method")
        return method if isinstance(method, str) and method else "DPO"

    @property
    def status(self) -> str | None:
        return self.info().get("status")

    @property
    def description(self) -> str:
        """What the recipe is, as recorded when the run started (the preset's description or the first line of the
        program's docstring)."""
        description = self.info().get("description")
        return description.strip().rstrip(".") if isinstance(description, str) else ""

    @property
    def base_model(self) -> str | None:
        model = self.config().get("model")
        return model if isinstance(model, str) and model else None

    # --- writing ------------------------------------------------------------------------------------------------
    def write_config(self, cfg_dict: dict) -> None:
        import yaml

        files.write_text(self.path(CONFIG), yaml.safe_dump(cfg_dict, sort_keys=False))

    def write_trl_config(self, values: dict) -> None:
        files.write_json(self.path(TRL_CONFIG), values)

    def write_info(self, info: dict) -> None:
        files.write_json(self.path(INFO), info)

    def update_info(self, **fields) -> None:
        """Set fields of run.json (created when missing)."""
        self.write_info({**self.info(), **fields})

    def set_status(self, status: str, step: int | None = None, reason: str | None = None) -> None:
        """How the run ended (or that it runs): the one writer of run.json's status."""
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        fields = {"status": status, "reason": reason}
        if step is not None:
            fields["global_step"] = step
        self.update_info(**fields)

    def write_data_summary(self, summaries: dict) -> None:
        files.write_json(self.path(DATA_SUMMARY), summaries)

    def save_evaluation(self, result: dict, key: str | None = None, rows: list[dict] | None = None) -> Path:
        """Merge figures into eval.json: under `key` ("generation", "bench") or, without one, as the held-out
        figures at the top level (keeping the keyed sections); `rows` (per-pair rows) go to eval_pairs.jsonl."""
        stored = self.evaluation()
        if key:
            stored[key] = result
        else:
            kept = {name: stored[name] for name in ("generation", "bench") if name in stored}
            stored = {**kept, **result}
        if rows is not None:
            files.write_jsonl(self.path(EVAL_PAIRS), rows)
        return files.write_json(self.path(EVAL), stored)

    def write_rows(self, name: str, rows: list[dict]) -> Path:
        return files.write_jsonl(self.path(name), rows)

    def copy_sources(self, program: Path, preset: Path | None) -> None:
        files.copy(program, self.path(PROGRAM))
        if preset is not None:
            files.copy(preset, self.path(PRESET))
