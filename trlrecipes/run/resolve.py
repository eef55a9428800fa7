"""Resolve a program's typed Config from layers: program defaults < preset < --demo < --config FILE.yaml < key=value.

Every value is coerced by the field's *declared* type, never by YAML's guess (PyYAML reads `5e-6` as a
string). Unknown keys are errors with a "did you mean" suggestion. Fields of the TRL config class that the
recipe does not mirror are reachable as `trl.<field>=...`, checked against the real TRL dataclass. Options of the
chosen data format's converter are set flat (`min_score_ratio=3`), typed by the format's declaration, and kept
in `cfg.data_options`; an empty `split`/`eval_split` becomes the format's own split names.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import typing
from pathlib import Path
from typing import Any

from trlrecipes.errors import UserError
from trlrecipes.run.contract import PRESET_META_KEYS
from trlrecipes.values import coerce, is_secret, suggest

TRL_PREFIX = "trl."
DATA_OPTIONS = "data_options"
# The demo layer points at local files, where Hub split names do not apply: a format it sets does not re-derive them.
DEMO_SOURCE = "--demo"


def trl_config_class(spec: str | None):
    """Import the TRL config class a recipe names, e.g. 'trl:DPOConfig' or 'trl.experimental.orpo:ORPOConfig'."""
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Resolver:
    """Applies layers of settings to a recipe Config class, collecting `trl.*` keys into `cfg.trl`."""

    def __init__(self, config_cls: type, trl_config: str | None = None):
        self.config_cls = config_cls
        self.hints = typing.get_type_hints(config_cls)
        self.fields = [f.name for f in dataclasses.fields(config_cls) if f.name != "trl"]
        self.trl_config = trl_config
        self._trl_hints: dict[str, Any] | None = None
        self.values: dict[str, Any] = {}
        self.trl_values: dict[str, Any] = {}
        self.pending: dict[str, tuple[Any, str]] = {}  # not Config fields: the data format's options, or unknown
        self.sources: dict[str, str] = {}  # key -> where its value came from (--dry-run shows it)
        self.split_format: str | None = None  # the data_format that names the default splits

    def trl_hints(self) -> dict[str, Any]:
        if self._trl_hints is None:
            cls = trl_config_class(self.trl_config)
            self._trl_hints = (
                {}
                if cls is None
                else {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls) if f.init}
            )
        return self._trl_hints

    def set(self, key: str, value: Any, source: str = "") -> None:
        where = f" ({source})" if source else ""
        if key.startswith(TRL_PREFIX):
            name = key[len(TRL_PREFIX) :]
            if name in self.fields:
                raise UserError(f"'{key}' is a recipe field here: set it as '{name}={_plain(value, key)}'{where}")
            hints = self.trl_hints()
            if not hints:
                raise UserError(f"unknown key {key!r}: this recipe declares no TRL config class{where}")
            if name not in hints:
                close = difflib.get_close_matches(name, list(hints), n=1, cutoff=0.6)
                hint = f"; did you mean 'trl.{close[0]}'?" if close else ""
                raise UserError(f"unknown key {key!r}{hint}{where}")
            self.trl_values[name] = coerce(value, hints[name], key)
            self.sources[key] = source or "default"
            return
        if key == DATA_OPTIONS and DATA_OPTIONS in self.hints and isinstance(value, dict):
            for name, option_value in value.items():
                self.pending[str(name)] = (option_value, source)
            return
        if key not in self.hints or key == "trl":
            if DATA_OPTIONS in self.hints:  # maybe an option of the data format, known once every layer is applied
                self.pending[key] = (value, source)
                return
            self.unknown(key, value, where)
        self.values[key] = coerce(value, self.hints[key], key)
        self.sources[key] = source or "default"
        if key == "data_format" and source != DEMO_SOURCE:
            self.split_format = self.values[key]

    def unknown(self, key: str, value: Any, where: str, options: list[str] = ()):
        hint = suggest(key, self.fields + list(options))
        if not hint and self.trl_config and key in self.trl_hints():
            hint = f"; it is a TRL setting this recipe does not mirror: use 'trl.{key}={_plain(value, key)}'"
        raise UserError(f"unknown key {key!r}{hint}{where}")

    def data_settings(self) -> None:
        """Type the pending keys as options of the final data format, and name its default splits."""
        from trlrecipes.data import check_options, format_options, get_format

        default = {f.name: f.default for f in dataclasses.fields(self.config_cls)}
        fmt_name = self.values.get("data_format", default.get("data_format"))
        if not isinstance(fmt_name, str):
            return
        fmt = get_format(fmt_name)  # an unknown format: one line naming the known ones
        declared = list(format_options(fmt))
        for key, (value, source) in self.pending.items():
            if key not in declared:
                self.unknown(key, value, f" ({source})" if source else "", declared)
        self.values[DATA_OPTIONS] = check_options(fmt_name, {key: value for key, (value, _) in self.pending.items()})
        self.sources.update({key: source or "default" for key, (_, source) in self.pending.items()})
        split_fmt = get_format(self.split_format or fmt_name)
        own_split = getattr(split_fmt, "DEFAULT_SPLIT", None) or "train"
        for key, own in (("split", own_split), ("eval_split", getattr(split_fmt, "EVAL_SPLIT", None) or own_split)):
            if key in self.hints and not self.values.get(key, default.get(key)):
                self.values[key] = own

    def apply_mapping(self, mapping: dict, source: str) -> None:
        for key, value in mapping.items():
            if key == "trl" and isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    self.set(f"{TRL_PREFIX}{sub_key}", sub_value, source)
            else:
                self.set(str(key), value, source)

    def apply_yaml(self, path: str | Path) -> None:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a mapping of key: value at the top level")
        # A preset file works as --config too: what describes it is not a setting.
        self.apply_mapping({key: value for key, value in data.items() if key not in PRESET_META_KEYS}, str(path))

    def apply_overrides(self, overrides: list[str]) -> None:
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UserError(f"bad override {item!r}: use key=value (e.g. learning_rate=5e-6)")
            self.set(key.strip(), value, "command line")

    def build(self):
        if DATA_OPTIONS in self.hints:
            self.data_settings()
        elif self.pending:
            key, (value, source) = next(iter(self.pending.items()))
            self.unknown(key, value, f" ({source})" if source else "")
        cfg = self.config_cls(**self.values)
        if self.trl_values:
            if not hasattr(cfg, "trl"):
                raise UserError("this recipe's Config has no 'trl' field, so trl.* settings cannot be passed")
            cfg.trl = {**cfg.trl, **self.trl_values}
        return cfg


def resolve_config(
    config_cls: type,
    *,
    trl_config: str | None = None,
    layers: list[tuple[dict, str]] = (),
    yaml_path: str | Path | None = None,
    overrides: list[str] = (),
    sources: dict | None = None,
):
    """Build a Config: defaults < each (mapping, source) layer < YAML file < key=value overrides; then check values.
    `sources`, when given, is filled with where each set value came from (keys absent: the program's default)."""
    resolver = Resolver(config_cls, trl_config)
    for mapping, source in layers:
        resolver.apply_mapping(mapping, source)
    if yaml_path:
        resolver.apply_yaml(yaml_path)
    resolver.apply_overrides(list(overrides))
    cfg = resolver.build()
    check_values(cfg)
    if sources is not None:
        sources.update(resolver.sources)
    return cfg


# Checks on the field names the built-in recipes share; a copied recipe that renames fields simply skips them.
_POSITIVE = (
    "learning_rate",
    "beta",
    "max_length",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "lora_r",
    "lora_alpha",
    "num_train_epochs",
)
_NON_NEGATIVE = ("lora_dropout", "max_steps", "max_train_rows", "max_eval_rows", "save_steps", "eval_steps", "seed")


def check_values(cfg) -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else {}
    for name in _POSITIVE:
        value = getattr(cfg, name, None)
        # a method whose own default is 0 (GRPO's beta: no KL term) takes 0; DPO's beta=0 would divide by zero
        if value is not None and value <= 0 and not (value == 0 and defaults.get(name) == 0):
            raise UserError(f"{name}={value} is impossible: it must be greater than 0")
    for name in _NON_NEGATIVE:
        value = getattr(cfg, name, None)
        if value is not None and value < 0:
            raise UserError(f"{name}={value} is impossible: it must be 0 or more")
    if getattr(cfg, "lora_dropout", 0) >= 1:
        raise UserError(f"lora_dropout={cfg.lora_dropout} is impossible: it must be below 1")
    prompt_budget = getattr(cfg, "max_prompt_length", None)
    if prompt_budget is not None and getattr(cfg, "max_length", None) is not None and prompt_budget >= cfg.max_length:
        raise UserError(
            f"max_length={cfg.max_length} leaves no room for the reply after max_prompt_length="
            f"{prompt_budget}; raise max_length or lower max_prompt_length"
        )
    if getattr(cfg, "learning_rate", None) is not None and cfg.learning_rate >= 1:
        raise UserError(
            f"learning_rate={cfg.learning_rate} is far too high for preference training "
            f"(typical: 5e-7 to 1e-4, e.g. learning_rate=5e-6)"
        )


def _plain(value: Any, key: str) -> str:
    """A value a hint repeats as the user would type it, unless it is a credential's."""
    return "<redacted>" if is_secret(key) else str(value)


def to_dict(cfg) -> dict[str, Any]:
    """The config as plain data for saving and printing, with secret-looking values redacted; the data format's
    options appear as top-level keys (as they are set), in place of `data_options`."""

    def clean(mapping: dict) -> dict:
        return {
            k: ("<redacted>" if is_secret(k) and v else clean(v) if isinstance(v, dict) else v)
            for k, v in mapping.items()
        }

    flat = {}
    for key, value in dataclasses.asdict(cfg).items():
        if key == DATA_OPTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return clean(flat)
