"""`data convert`, `data formats` and `data inspect` from the command line: converter options typed from key=value
text, did-you-mean for unknown ones, the format's own default split, and inspect honouring a recipe's columns."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.data import config_options

FIXTURES = Path(__file__).parent / "fixtures"


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def convert(fmt, fixture, *options, tmp_path):
    report = tmp_path / "report.json"
    result = invoke("data", "convert", fmt, "--input", FIXTURES / fixture, "--report", report, *options)
    assert result.exit_code == 0, result.output
    return json.loads(report.read_text()), result.output


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_ultrafeedback_keep_ties_typed(tmp_path):
    default, output = convert("ultrafeedback", "ultrafeedback.jsonl", tmp_path=tmp_path)
    assert default["skipped"]["tied_scores"] == 1 and default["converted"] == 2
    assert "tied_scores  (both replies have the same score" in output
    off, _ = convert("ultrafeedback", "ultrafeedback.jsonl", "keep_ties=false", tmp_path=tmp_path)
    assert off == default  # "false" is False, not a non-empty string
    on, _ = convert("ultrafeedback", "ultrafeedback.jsonl", "keep_ties=true", tmp_path=tmp_path)
    assert on["converted"] == 3 and "tied_scores" not in on["skipped"]
    one_line_error(
        invoke("data", "convert", "ultrafeedback", "--input", FIXTURES / "ultrafeedback.jsonl", "keep_ties=maybe"),
        "keep_ties",
        "maybe",
    )


def test_shp_min_score_ratio_typed(tmp_path):
    strict, _ = convert("shp", "shp.jsonl", "min_score_ratio=2.0", tmp_path=tmp_path)
    assert strict == {"read": 4, "converted": 3, "skipped": {"low_score_ratio": 1}}
    loose, _ = convert("shp", "shp.jsonl", "min_score_ratio=1", tmp_path=tmp_path)
    assert loose == {"read": 4, "converted": 4, "skipped": {}}
    one_line_error(
        invoke("data", "convert", "shp", "--input", FIXTURES / "shp.jsonl", "min_score_ratio=high"), "min_score_ratio"
    )


def test_pku_options_typed(tmp_path):
    kept, output = convert("pku-saferlhf", "pku_saferlhf.jsonl", "skip_both_unsafe=false", tmp_path=tmp_path)
    assert kept == {
        "read": 5,
        "converted": 4,
        "skipped": {"safer_id_contradicts_flags": 1},
        "notes": {"axes_disagree": 2},
    }
    assert "noted        2  axes_disagree  (the more helpful response is not the safer one" in output
    helpful, _ = convert("pku-saferlhf", "pku_saferlhf.jsonl", "axis=helpful", tmp_path=tmp_path)
    assert helpful["converted"] == 5
    one_line_error(
        invoke("data", "convert", "pku-saferlhf", "--input", FIXTURES / "pku_saferlhf.jsonl", "axis=harmless"),
        "axis must be one of safe, helpful, got 'harmless'",
    )


def test_pku_prints_its_licence_notice(tmp_path):
    result = invoke("data", "convert", "pku-saferlhf", "--input", FIXTURES / "pku_saferlhf.jsonl")
    assert result.exit_code == 0 and "CC BY-NC 4.0" in result.output


def test_custom_columns_have_the_recipe_spelling(tmp_path):
    columns = ["prompt_column=question", "chosen_column=good", "rejected_column=bad", "system_column=sys"]
    out = tmp_path / "pairs.jsonl"
    report, _ = convert("custom", "custom_columns.csv", "--output", out, *columns, tmp_path=tmp_path)
    assert report == {"read": 4, "converted": 2, "skipped": {"empty_prompt": 1, "identical_replies": 1}}
    assert json.loads(out.read_text().splitlines()[1])["chosen"] == [{"role": "assistant", "content": "Rome"}]
    one_line_error(
        invoke("data", "convert", "custom", "--input", FIXTURES / "custom_columns.csv", "prompt=question"),
        "unknown option 'prompt'",
        "did you mean 'prompt_column'",
    )


def test_unknown_option_did_you_mean_and_bad_syntax():
    one_line_error(
        invoke("data", "convert", "ultrafeedback", "--input", FIXTURES / "ultrafeedback.jsonl", "keep_tie=true"),
        "unknown option 'keep_tie'",
        "did you mean 'keep_ties'",
    )
    one_line_error(
        invoke("data", "convert", "shp", "--input", FIXTURES / "shp.jsonl", "min_score_ratio"), "use key=value"
    )


def test_convert_defaults_split_and_input_to_the_format(monkeypatch):
    """No --split: the format's DEFAULT_SPLIT reaches load_source (UltraFeedback has no "train" split); no --input:
    the format's Hub dataset."""
    import trlrecipes.data.common as common
    from trlrecipes.errors import UserError

    calls = []

    def fake_load_source(source, *, split, subset, **_):
        calls.append((source, split, subset))
        raise UserError("stop")

    monkeypatch.setattr(common, "load_source", fake_load_source)
    invoke("data", "convert", "ultrafeedback", "--input", "HuggingFaceH4/ultrafeedback_binarized")
    invoke("data", "convert", "ultrafeedback")
    invoke("data", "convert", "hh-rlhf", "--subset", "harmless-base", "--split", "test")
    assert calls == [
        ("HuggingFaceH4/ultrafeedback_binarized", "train_prefs", None),
        ("HuggingFaceH4/ultrafeedback_binarized", "train_prefs", None),
        ("Anthropic/hh-rlhf", "test", "harmless-base"),
    ]


def test_data_formats_lists_each_option_with_type_and_default():
    result = invoke("data", "formats")
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    uf = "ultrafeedback (Hub HuggingFaceH4/ultrafeedback_binarized, split train_prefs, eval split test_prefs)"
    assert uf in lines
    assert any(line.startswith("keep_ties=False bool keep pairs whose two GPT-4 scores are equal") for line in lines)
    assert any(line.startswith("min_score_ratio=2.0 float skip pairs") for line in lines)
    assert any(line.startswith("axis='safe' safe | helpful which label") for line in lines)
    assert any(line.startswith("inline_human_turn='cut' cut | skip") for line in lines)
    assert any(line.startswith("prompt_column='prompt' str") for line in lines)
    one = invoke("data", "formats", "shp")
    assert one.exit_code == 0 and one.output.startswith("shp ") and "custom" not in one.output
    one_line_error(invoke("data", "formats", "shpp"), "unknown data format 'shpp'")


def test_recipe_converter_options_read_from_the_config():
    custom = SimpleNamespace(
        data_format="custom",
        prompt_column="q",
        chosen_column="good",
        rejected_column="bad",
        system_column="",
        model="x",
    )
    assert config_options(custom) == {
        "prompt_column": "q",
        "chosen_column": "good",
        "rejected_column": "bad",
        "system_column": "",
    }
    shp = SimpleNamespace(data_format="shp", data_options={"min_score_ratio": 3.0})
    assert config_options(shp) == {"min_score_ratio": 3.0}
    assert config_options(SimpleNamespace(data_format="hh-rlhf")) == {}
    saved = {"data_format": "ultrafeedback", "keep_ties": True, "beta": 0.1}  # a run folder's config.yaml
    assert config_options(saved) == {"keep_ties": True}


def test_inspect_file_honours_the_custom_recipe_columns(tiny_model):
    file = FIXTURES / "custom_columns.csv"
    columns = ["prompt_column=question", "chosen_column=good", "rejected_column=bad", "system_column=sys"]
    result = invoke("data", "inspect", file, "--recipe", "custom-dpo", f"model={tiny_model}", *columns, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["conversion"] == {"read": 4, "converted": 2, "skipped": {"empty_prompt": 1, "identical_replies": 1}}
    assert report["rows"] == 2
    missing = invoke("data", "inspect", file, "--recipe", "custom-dpo", f"model={tiny_model}")
    one_line_error(missing, "missing field(s) 'prompt', 'chosen', 'rejected'")


@pytest.mark.parametrize("fmt", ["ultrafeedback", "shp", "pku-saferlhf", "custom", "hh-rlhf"])
def test_convert_help_points_at_the_formats_listing(fmt):
    result = invoke("data", "convert", fmt, "--help")
    assert result.exit_code == 0 and "trlrecipes data formats" in result.output


def test_preflight_judges_rows_with_the_config_options(tmp_path):
    """Before anything is loaded, a local file where no row converts with the run's converter options is one
    line: hh-rlhf (whose converter now takes an option) is still judged, and ultrafeedback with its keep_ties."""
    from trlrecipes.errors import UserError
    from trlrecipes.run.preflight import _check_data

    hh = tmp_path / "identical.jsonl"
    hh.write_text(
        json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: b"}) + "\n"
    )
    with pytest.raises(UserError, match="none of its 1 rows is a usable hh-rlhf pair.*identical_replies"):
        _check_data(SimpleNamespace(data_format="hh-rlhf", dataset=str(hh), eval_dataset=""))
    ties = tmp_path / "ties.jsonl"
    tied = json.loads((FIXTURES / "ultrafeedback.jsonl").read_text().splitlines()[0])
    ties.write_text(json.dumps({**tied, "score_rejected": tied["score_chosen"]}) + "\n")
    cfg = SimpleNamespace(data_format="ultrafeedback", dataset=str(ties), eval_dataset="", keep_ties=False)
    with pytest.raises(UserError, match="tied_scores"):
        _check_data(cfg)
    cfg.keep_ties = True
    _check_data(cfg)  # usable with the run's option
    cfg.keep_ties = "maybe"
    _check_data(cfg)  # an invalid option is left to the recipe, which reports it
