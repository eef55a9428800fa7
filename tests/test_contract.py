"""The program contract (trlrecipes/run/contract.py): what a program must and may define, checked when it loads, and
--dry-run's sources; every built-in name passes its own checks with and without --demo."""

from __future__ import annotations

import re

import pytest
import yaml
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run.recipes import builtin_names, load_program

GOOD = """
from dataclasses import dataclass

METHOD = "DPO"


@dataclass
class Config:
    beta: float = 0.1


def main(cfg, run):
    pass
"""


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("demo", [False, True], ids=["", "demo"])
def test_every_builtin_passes_its_checks(name, demo):
    """--dry-run runs every check on values (the shared ones and the program's own check(cfg)): a preset or a
    program's DEMO that breaks a rule (save_steps not a multiple of logging_steps, say) fails here, not in a run."""
    result = CliRunner().invoke(app, ["run", name, "--dry-run", *(["--demo"] if demo else [])])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (GOOD.replace("def main(cfg, run):\n    pass\n", ""), "add a function `main(cfg, run)`"),
        (GOOD.replace("@dataclass\nclass Config:\n    beta: float = 0.1\n", ""), "add a dataclass `Config`"),
        (GOOD.replace('METHOD = "DPO"', "METHOD = 3"), "METHOD must be a string"),
        (GOOD.replace('METHOD = "DPO"', 'TRL_CONFIG = "trl.DPOConfig"'), "must read 'module:Class'"),
        (GOOD.replace('METHOD = "DPO"', "DEMO = [1]"), "DEMO must be a mapping"),
        (GOOD.replace('METHOD = "DPO"', "check = 1"), "`check` must be a function"),
    ],
)
def test_a_program_missing_or_misnaming_a_part_is_one_line(tmp_path, source, words):
    path = tmp_path / "mine.py"
    path.write_text(source)
    with pytest.raises(UserError, match=re.escape(words)) as err:
        load_program(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    load_program_good = tmp_path / "good.py"
    load_program_good.write_text(GOOD)
    assert load_program(load_program_good).METHOD == "DPO"


def test_a_program_check_runs_before_anything_loads(tmp_path):
    path = tmp_path / "checked.py"
    path.write_text(
        GOOD + "\n\ndef check(cfg):\n    from trlrecipes.errors import UserError\n\n"
        "    if cfg.beta > 1:\n        raise UserError(f'beta={cfg.beta} is too large for this method')\n"
    )
    result = CliRunner().invoke(app, ["run", str(path), "beta=2", "--dry-run"])
    assert result.exit_code == 2 and "beta=2.0 is too large" in result.stderr
    assert CliRunner().invoke(app, ["run", str(path), "beta=0.5", "--dry-run"]).exit_code == 0


def test_dry_run_names_each_values_source(tmp_path):
    settings = tmp_path / "mine.yaml"
    settings.write_text("learning_rate: 1e-5\n")
    result = CliRunner().invoke(app, ["run", "hh-ipo", "--demo", "--config", str(settings), "beta=0.3", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0]: line for line in result.output.splitlines()}
    assert lines["beta"].endswith("# command line")
    assert lines["learning_rate"].endswith(f"# {settings}")
    assert lines["loss_type"].endswith("# preset hh-ipo")
    assert lines["max_steps"].endswith("# --demo")
    assert lines["lora_r"].endswith("# default")
    values = yaml.safe_load(result.output)  # still the resolved values as YAML, comments aside
    assert values["beta"] == 0.3 and values["learning_rate"] == 1e-5 and values["loss_type"] == ["ipo"]


def test_beta_zero_is_a_setting_only_where_the_program_defaults_to_it():
    """GRPO's beta=0 means no KL term (its default); DPO's beta=0 would divide by zero (refused)."""
    from trlrecipes.api import config

    assert config("grpo").beta == 0.0 and config("grpo", "beta=0.04").beta == 0.04
    with pytest.raises(UserError, match="beta=0.0 is impossible"):
        config("hh-dpo", "beta=0")
    with pytest.raises(UserError, match="beta=-0.1 is impossible"):
        config("grpo", "beta=-0.1")
