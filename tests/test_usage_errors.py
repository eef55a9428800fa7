"""A command typed wrong (a missing argument, a bad option value, an unknown command) is one line on stderr and
exit 2, through the installed `trlrecipes` entry point (typer's own rendering is a boxed block of several lines)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    (["eval"], "Missing argument 'run_dir'", "trlrecipes eval --help"),
    (["eval", "somewhere", "--max-rows", "abc"], "'--max-rows'", "trlrecipes eval --help"),
    (["nosuch"], "No such command 'nosuch'", "trlrecipes --help"),
    (["data", "convert"], "Missing argument 'FORMAT'", "trlrecipes data convert --help"),
    (["run", "hh-dpo", "--no-such-flag"], None, None),  # run takes unknown words as settings: its own one line
]


@pytest.mark.parametrize(("args", "says", "points_to"), CASES, ids=lambda case: str(case)[:40])
def test_usage_error_is_one_line_exit_2(args, says, points_to, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from trlrecipes.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    if says:
        assert says in lines[0] and f"`{points_to}`" in lines[0]
    assert "╭" not in result.stderr and "Traceback" not in result.stderr


def test_no_arguments_print_the_help():
    result = subprocess.run(
        [sys.executable, "-c", "from trlrecipes.cli import main; main()"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "Usage: trlrecipes" in result.stdout and "run" in result.stdout


def test_plan_without_network_is_one_line_at_once(tmp_path):
    """A Hub model whose config is not cached, with no network: one line within seconds, not huggingface_hub's five
    retries (about 25 s of retry lines). The Hub endpoint is pointed at a closed local port."""
    import os
    import time

    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE", None)
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from trlrecipes.cli import main; main()", "plan", "hh-dpo", "model=someone/model"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "cannot be reached" in lines[0] and "--model-config" in lines[0]
    assert time.monotonic() - start < 20


def test_a_yaml_tag_in_a_mapping_value_is_one_line():
    """`key=!!python/...`: safe_load refuses to construct it; that is the user's value, exit 2 (it was exit 1)."""
    from typer.testing import CliRunner

    from trlrecipes.cli import app

    result = CliRunner().invoke(app, ["run", "hh-dpo", "--dry-run", "data_options=!!python/tuple [1,2]"])
    assert result.exit_code == 2 and "is not a YAML mapping" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
