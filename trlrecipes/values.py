"""Typed values from text: the one coercion rule for every `key=value` a user types (run settings, converter
options) and YAML values (PyYAML reads `5e-6` as a string), did-you-mean hints, and which keys hold secrets.

Nothing here imports training or data code, so both sides can use it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from trlrecipes.errors import UserError

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
        names = " or ".join(_type_name(o) for o in options)
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not {names}")
    if tp is Any or tp is object:
        return value
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value in allowed:
            return value
        raise UserError(f"bad value for {key!r}: {shown(value, key)}; choose one of {', '.join(map(repr, allowed))}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not a boolean (use true or false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not a number")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not a string")
    if origin in (list, tuple) or tp in (list, tuple):
        item_types = typing.get_args(tp) or (Any,)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise UserError(f"bad value for {key!r}: {shown(value, key)} is not a list (use a,b,c)")
        items = [coerce(item, item_types[0], key) for item in value]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            import yaml

            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError as err:  # e.g. a !!python tag, which safe_load refuses to construct
                raise UserError(
                    f"bad value for {key!r}: {shown(value, key)} is not a YAML mapping "
                    f"({str(err).splitlines()[0]}); use {{a: 1}}"
                ) from err
            if isinstance(parsed, dict):
                return parsed
        raise UserError(f"bad value for {key!r}: {shown(value, key)} is not a mapping (use {{a: 1}})")
    raise UserError(f"bad value for {key!r}: cannot convert {shown(value, key)} to {_type_name(tp)}")


def shown(value: Any, key: str) -> str:
    """A value as an error message may repeat it: `<redacted>` for a credential's (logs and CI keep stderr)."""
    return "<redacted>" if is_secret(key) else repr(value)


def suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def is_secret(key: str) -> bool:
    name = key.lower().lstrip("-").rsplit(".", 1)[-1]
    if any(word in name for word in _CREDENTIAL_WORDS):
        return True
    return (name == "token" or name.endswith("_token")) and name not in _TOKENIZER_TOKENS
