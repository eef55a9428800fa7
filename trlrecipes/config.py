"""Resolve a recipe's typed Config from layers: recipe defaults < --demo < --config FILE.yaml < key=value.

Every value is coerced by the field's *declared* type, never by YAML's guess (PyYAML reads `5e-6` as a
string). Unknown keys are errors with a "did you mean" suggestion. Fields of the TRL config class that the
recipe does not mirror are reachable as `trl.<field>=...`, checked against the real TRL dataclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import types
import typing
from pathlib import Path
from typing import Any

from trlrecipes.errors import UserError

TRL_PREFIX = "trl."
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null", "~"}
# Credentials among config keys: redacted when saved, left out of printed commands, free to differ on resume.
# A tokenizer's pad_token and the like are real settings, not credentials.
_CREDENTIAL_WORDS = ("secret", "password", "passwd", "api_key", "apikey")
_TOKENIZER_TOKENS = {"pad_token", "eos_token", "bos_token", "unk_token", "sep_token", "cls_token", "mask_token"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert `value` (a CLI string or a YAML value) to the declared type `tp`, or raise UserError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            if type(None) in options:
                return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return coerce(value, option, key)
            except UserError as err:
                errors.append(str(err))
        raise UserError(f"bad value for {key!r}: {value!r} is not {' or '.join(_type_name(o) for o in options)}")
    if tp is Any or tp is object:
        return value
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value in allowed:
            return value
        raise UserError(f"bad value for {key!r}: {value!r}; choose one of {', '.join(map(repr, allowed))}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise UserError(f"bad value for {key!r}: {value!r} is not a boolean (use true or false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise UserError(f"bad value for {key!r}: {value!r} is not an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise UserError(f"bad value for {key!r}: {value!r} is not a number")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"bad value for {key!r}: {value!r} is not a string")
    if origin in (list, tuple) or tp in (list, tuple):
        item_types = typing.get_args(tp) or (Any,)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise UserError(f"bad value for {key!r}: {value!r} is not a list (use a,b,c)")
        items = [coerce(item, item_types[0], key) for item in value]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            import yaml

            parsed = yaml.safe_load(value)
            if isinstance(parsed, dict):
                return parsed
        raise UserError(f"bad value for {key!r}: {value!r} is not a mapping (use {{a: 1}})")
    raise UserError(f"bad value for {key!r}: cannot convert {value!r} to {_type_name(tp)}")


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


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

    def trl_hints(self) -> dict[str, Any]:
        if self._trl_hints is None:
            cls = trl_config_class(self.trl_config)
            self._trl_hints = {} if cls is None else {f.name: typing.get_type_hints(cls)[f.name]
                                                        for f in dataclasses.fields(cls) if f.init}
        return self._trl_hints

    def set(self, key: str, value: Any, source: str = "") -> None:
        where = f" ({source})" if source else ""
        if key.startswith(TRL_PREFIX):
            name = key[len(TRL_PREFIX):]
            if name in self.fields:
                raise UserError(f"'{key}' is a recipe field here: set it as '{name}={value}'{where}")
            hints = self.trl_hints()
            if not hints:
                raise UserError(f"unknown key {key!r}: this recipe declares no TRL config class{where}")
            if name not in hints:
                close = difflib.get_close_matches(name, list(hints), n=1, cutoff=0.6)
                hint = f"; did you mean 'trl.{close[0]}'?" if close else ""
                raise UserError(f"unknown key {key!r}{hint}{where}")
            self.trl_values[name] = coerce(value, hints[name], key)
            return
        if key not in self.hints or key == "trl":
            hint = _suggest(key, self.fields)
            if not hint and self.trl_config and key in self.trl_hints():
                hint = f"; it is a TRL setting this recipe does not mirror: use 'trl.{key}={value}'"
            raise UserError(f"unknown key {key!r}{hint}{where}")
        self.values[key] = coerce(value, self.hints[key], key)

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
            raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})")
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a mapping of key: value at the top level")
        self.apply_mapping(data, str(path))

    def apply_overrides(self, overrides: list[str]) -> None:
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UserError(f"bad override {item!r}: use key=value (e.g. learning_rate=5e-6)")
            self.set(key.strip(), value, "command line")

    def build(self):
        cfg = self.config_cls(**self.values)
        if self.trl_values:
            if not hasattr(cfg, "trl"):
                raise UserError("this recipe's Config has no 'trl' field, so trl.* settings cannot be passed")
            cfg.trl = {**cfg.trl, **self.trl_values}
        return cfg


def resolve_config(config_cls: type, *, trl_config: str | None = None, layers: list[tuple[dict, str]] = (),
                   yaml_path: str | Path | None = None, overrides: list[str] = ()):
    """Build a Config: defaults < each (mapping, source) layer < YAML file < key=value overrides; then check values."""
    resolver = Resolver(config_cls, trl_config)
    for mapping, source in layers:
        resolver.apply_mapping(mapping, source)
    if yaml_path:
        resolver.apply_yaml(yaml_path)
    resolver.apply_overrides(list(overrides))
    cfg = resolver.build()
    check_values(cfg)
    return cfg


# Checks on the field names the built-in recipes share; a copied recipe that renames fields simply skips them.
_POSITIVE = ("learning_rate", "beta", "max_length", "per_device_train_batch_size", "per_device_eval_batch_size",
             "gradient_accumulation_steps", "lora_r", "lora_alpha", "num_train_epochs")
_NON_NEGATIVE = ("lora_dropout", "max_steps", "max_train_rows", "max_eval_rows", "save_steps", "eval_steps", "seed")


def check_values(cfg) -> None:
    for name in _POSITIVE:
        value = getattr(cfg, name, None)
        if value is not None and value <= 0:
            raise UserError(f"{name}={value} is impossible: it must be greater than 0")
    for name in _NON_NEGATIVE:
        value = getattr(cfg, name, None)
        if value is not None and value < 0:
            raise UserError(f"{name}={value} is impossible: it must be 0 or more")
    if getattr(cfg, "lora_dropout", 0) >= 1:
        raise UserError(f"lora_dropout={cfg.lora_dropout} is impossible: it must be below 1")
    prompt_budget = getattr(cfg, "max_prompt_length", None)
    if prompt_budget is not None and getattr(cfg, "max_length", None) is not None and prompt_budget >= cfg.max_length:
        raise UserError(f"max_length={cfg.max_length} leaves no room for the reply after max_prompt_length="
                        f"{prompt_budget}; raise max_length or lower max_prompt_length")
    if getattr(cfg, "learning_rate", None) is not None and cfg.learning_rate >= 1:
        raise UserError(f"learning_rate={cfg.learning_rate} is far too high for preference training "
                        f"(typical: 5e-7 to 1e-4, e.g. learning_rate=5e-6)")


def is_secret(key: str) -> bool:
    name = key.lower().lstrip("-").rsplit(".", 1)[-1]
    if any(word in name for word in _CREDENTIAL_WORDS):
        return True
    return (name == "token" or name.endswith("_token")) and name not in _TOKENIZER_TOKENS


def to_dict(cfg) -> dict[str, Any]:
    """The config as plain data for saving, with secret-looking values redacted."""
    def clean(mapping: dict) -> dict:
        return {k: ("<redacted>" if is_secret(k) and v else clean(v) if isinstance(v, dict) else v)
                for k, v in mapping.items()}

    return clean(dataclasses.asdict(cfg))
