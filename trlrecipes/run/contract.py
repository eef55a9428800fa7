"""What a method program is: the names trlrecipes reads from a program file, in one place, checked when it loads.

Required
  Config        a dataclass of every setting with its default (usually a subclass of run.settings.LoraSettings);
                values are coerced by its declared types, unknown keys are errors
  main(cfg, run)  trains: builds the TRL trainer from `cfg` and what the `Run` gives it, then `run.train(trainer)`

Optional
  METHOD        the method's name for run.json, the card, compare and eval ("DPO"); default: the file's name
  method(cfg)   the method for these settings, when they change it (dpo.py: loss_type=ipo -> "IPO")
  TRL_CONFIG    "module:Class" of the TRL config (e.g. "trl:DPOConfig"): Config fields named like its fields pass
                through, and trl.<field>=value reaches every other field (checked against that class)
  DEMO          settings --demo adds over the shared CPU demo settings (run/demo.py), each with its measured reason
  check(cfg)    method-specific checks that need no model (e.g. GRPO's batch vs num_generations): raise UserError;
                called with every other check before anything loads, and by --dry-run

A preset (`NAME.yaml`) holds `program:` (a built-in name or a .py path beside it), `description:` and settings.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from trlrecipes.errors import UserError

# Keys of a preset file that describe it rather than set a Config field.
PRESET_META_KEYS = ("program", "description")
OPTIONAL = ("METHOD", "method", "TRL_CONFIG", "DEMO", "check")


def check_program(module: ModuleType, path: Path) -> None:
    """A loaded program file has what trlrecipes calls, each of the right kind; one line naming what to add."""
    config, main = getattr(module, "Config", None), getattr(module, "main", None)
    missing = []
    if not (isinstance(config, type) and hasattr(config, "__dataclass_fields__")):
        missing.append("a dataclass `Config` (its settings with defaults)")
    if not callable(main):
        missing.append("a function `main(cfg, run)` that trains")
    if missing:
        raise UserError(
            f"{path}: not a method program: add {' and '.join(missing)}; start from `trlrecipes cp dpo` "
            f"(the program contract: trlrecipes/run/contract.py)"
        )
    for name, kind, what in (
        ("METHOD", str, "a string such as 'DPO'"),
        ("TRL_CONFIG", str, "a string 'module:Class' such as 'trl:DPOConfig'"),
        ("DEMO", dict, "a mapping of settings"),
    ):
        value = getattr(module, name, None)
        if value is not None and not isinstance(value, kind):
            raise UserError(f"{path}: {name} must be {what}, not {type(value).__name__}")
    for name in ("method", "check"):
        value = getattr(module, name, None)
        if value is not None and not callable(value):
            raise UserError(f"{path}: `{name}` must be a function of the resolved Config")
    spec = getattr(module, "TRL_CONFIG", None)
    if spec is not None and (spec.count(":") != 1 or not all(spec.split(":"))):
        raise UserError(f"{path}: TRL_CONFIG {spec!r} must read 'module:Class', e.g. 'trl:DPOConfig'")


def method_name(module: ModuleType, cfg) -> str:
    """The method a program runs with these settings (DPO's program runs IPO with loss_type=ipo)."""
    named = getattr(module, "method", None)
    if callable(named):
        return named(cfg)
    return getattr(module, "METHOD", None) or Path(getattr(module, "__file__", "program") or "program").stem.upper()


def trl_config_spec(module: ModuleType) -> str | None:
    return getattr(module, "TRL_CONFIG", None)


def demo_settings(module: ModuleType) -> dict:
    return dict(getattr(module, "DEMO", None) or {})


def run_checks(module: ModuleType, cfg) -> None:
    """The program's own `check(cfg)`, when it has one."""
    check = getattr(module, "check", None)
    if callable(check):
        check(cfg)


def description(module: ModuleType) -> str:
    """The first line of the program's docstring."""
    lines = (module.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else ""
