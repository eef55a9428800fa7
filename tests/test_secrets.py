"""Secrets (tokens, API keys, passwords) never reach a saved command line, a printed resume command, an error message
or --dry-run's output. (That a real run writes none into its folder: tests/test_interrupts.py's Ctrl-C test.)"""

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run.execute import RunFlags, redact_args, resume_command
from trlrecipes.run.resolve import is_secret

SECRET = "abc123"


def test_secrets_are_redacted_from_saved_command_lines(tmp_path):
    args = ["run", "hh-dpo", "beta=0.2", f"trl.hub_token={SECRET}", f"--api_key={SECRET}", "max_steps=5"]
    assert redact_args(args) == [
        "run",
        "hh-dpo",
        "beta=0.2",
        "trl.hub_token=<redacted>",
        "--api_key=<redacted>",
        "max_steps=5",
    ]
    # Credentials are left out of the printed resume command; a tokenizer's pad_token is a setting and stays.
    options = RunFlags(overrides=["beta=0.2", f"trl.hub_token={SECRET}", "trl.pad_token=<pad>", "output_dir=x"])
    command = resume_command("trlrecipes run hh-dpo", options, tmp_path)
    assert SECRET not in command and command.endswith(f"beta=0.2 'trl.pad_token=<pad>' output_dir={tmp_path} --resume")
    assert [
        is_secret(k)
        for k in (
            "trl.hub_token",
            "HF_TOKEN",
            "wandb_api_key",
            "my_secret",
            "pad_token",
            "trl.eos_token",
            "max_new_tokens",
        )
    ] == [True] * 4 + [False] * 3


@pytest.mark.parametrize(
    "args",
    [["hub_token=hf_abc"], ["trl.hub_token=hf_abc"], ["trl.hub_token=hf_abc", "beta=x"]],
    ids=["not-mirrored", "trl-field", "other-error"],
)
def test_no_secret_in_any_output(args):
    result = CliRunner().invoke(app, ["run", "hh-dpo", *args, "--dry-run"])
    assert "hf_abc" not in result.stdout and "hf_abc" not in result.stderr
    if args == ["hub_token=hf_abc"]:
        assert result.exit_code == 2
        assert "use 'trl.hub_token=<redacted>'" in result.stderr


def test_coerce_never_repeats_a_secret_value():
    from trlrecipes.values import coerce

    for key in ("api_key", "trl.hub_token", "wandb_password"):
        with pytest.raises(UserError) as err:
            coerce("hf_abc", int, key)
        assert "hf_abc" not in str(err.value) and "<redacted>" in str(err.value)
    with pytest.raises(UserError, match="'lots' is not an integer"):
        coerce("lots", int, "max_steps")  # other values are still shown
