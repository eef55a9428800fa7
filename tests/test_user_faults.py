"""User faults are one line and exit 2, found before anything slow (issue #18): broken or misnamed models, a run
folder whose base model moved or whose adapter was cut short, outputs that cannot be written, unreadable --config
and metrics files, impossible eval/generate options, reward functions that fail.

The cheap cases run through the CLI in one subprocess that also records whether anything heavy (torch,
transformers, ...) was imported before the error; the cases that need transformers to judge (model_type) or the
tiny model (synth) run in this process.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_overrides
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.errors import UserError
from trlrecipes.run.execute import RunFlags, resume_command

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")
HAS_PROC = Path("/proc/self").exists()  # a folder no process can make anything in, even as root

DRIVER = r"""
import json, sys
from pathlib import Path

from typer.testing import CliRunner
from trlrecipes.cli import app

heavy, cases = json.loads(Path(sys.argv[1]).read_text())
results = {}
for case_id, args in cases:
    result = CliRunner().invoke(app, args)
    results[case_id] = {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
                        "heavy": sorted(name for name in heavy if name in sys.modules)}
Path(sys.argv[2]).write_text(json.dumps(results))
"""


def make_run_folder(folder: Path, model: Path, hh_files) -> Path:
    """What a finished run leaves for eval/generate/merge: config.yaml, program.py and a LoRA adapter of `model`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trlrecipes.run.recipes import builtin_dir

    folder.mkdir(parents=True)
    train, test = hh_files
    config = {
        "model": str(model),
        "dataset": str(train),
        "eval_dataset": str(test),
        "data_format": "hh-rlhf",
        "max_length": 96,
        "beta": 0.1,
        "max_eval_rows": 8,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    shutil.copyfile(builtin_dir() / "dpo.py", folder / "program.py")
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(model)),
        LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    peft_model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def faults(tiny_model, hh_files, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    broken = tmp / "broken-json-model"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").write_text('{"model_type": "llama", ')
    good_run = make_run_folder(tmp / "good-run", tiny_model, hh_files)
    moved = tmp / "moved-run"
    shutil.copytree(good_run, moved)
    config = yaml.safe_load((moved / "config.yaml").read_text())
    (moved / "config.yaml").write_text(yaml.safe_dump({**config, "model": str(tmp / "model-that-moved")}))
    truncated = tmp / "truncated-run"
    shutil.copytree(good_run, truncated)
    weights = truncated / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # the header survives, the tensors do not all fit
    (tmp / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (tmp / "binary-run").mkdir()
    (tmp / "binary-run" / "metrics.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)) * 8)
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "out-folder").mkdir()
    return {"tmp": tmp, "good_run": good_run, "base": tiny_overrides(tiny_model, *hh_files, tmp / "never-made")}


# (id, CLI arguments, fragment of the one error line). "RUN" stands for `run hh-dpo` with the tiny-model settings;
# {tmp} is the fixture's folder, {train} the tiny training file.
CHEAP_CASES = [
    (
        "model-config-not-json",
        ["RUN", "model={tmp}/broken-json-model"],
        "model={tmp}/broken-json-model: {tmp}/broken-json-model/config.json is not valid JSON",
    ),
    ("model-name-with-spaces", ["RUN", "model=my model"], "model=my model: neither a local folder nor a valid Hub id"),
    ("model-is-a-file", ["RUN", "model={tmp}/a-file"], "is a file, not a model folder"),
    (
        "output-dir-under-a-file",
        ["RUN", "output_dir={tmp}/a-file/run"],
        "{tmp}/a-file is a file, so {tmp}/a-file/run cannot be made there",
    ),
    ("config-not-text", ["RUN", "--config", "{tmp}/binary.yaml"], "is not a text file (byte 128 is not UTF-8)"),
    ("config-is-a-folder", ["RUN", "--config", "{tmp}"], "--config {tmp} is a folder; pass a YAML file"),
    (
        "eval-base-model-moved",
        ["eval", "{tmp}/moved-run"],
        "{tmp}/moved-run/config.yaml: the run's base model {tmp}/model-that-moved is not there any more (folder not "
        "found); if it moved, set model: in that file to its new place",
    ),
    ("generate-base-model-moved", ["generate", "{tmp}/moved-run", "--prompt", "hi"], "is not there any more"),
    ("merge-base-model-moved", ["merge", "{tmp}/moved-run", "--output", "{tmp}/merged"], "is not there any more"),
    (
        "eval-adapter-cut-short",
        ["eval", "{tmp}/truncated-run"],
        "{tmp}/truncated-run: adapter_model.safetensors is damaged or cut short",
    ),
    ("generate-adapter-cut-short", ["generate", "{tmp}/truncated-run", "--prompt", "hi"], "is damaged or cut short"),
    ("eval-negative-max-rows", ["eval", "{tmp}/good-run", "--max-rows", "-5"], "--max-rows -5: must be 0"),
    (
        "generate-zero-new-tokens",
        ["generate", "{tmp}/good-run", "--prompt", "hi", "--max-new-tokens", "0"],
        "--max-new-tokens 0: must be at least 1",
    ),
    ("generate-empty-prompt", ["generate", "{tmp}/good-run", "--prompt", ""], "--prompt '' is empty"),
    ("generate-blank-prompt", ["generate", "{tmp}/good-run", "--prompt", "  "], "--prompt '  ' is empty"),
    ("plot-binary-metrics", ["plot", "{tmp}/binary-run"], "metrics.jsonl is not a text file of JSON lines"),
    (
        "convert-output-is-a-folder",
        ["data", "convert", "hh-rlhf", "--input", "{train}", "--output", "{tmp}/out-folder"],
        "--output {tmp}/out-folder: {tmp}/out-folder is a folder; name a file",
    ),
    (
        "convert-report-is-a-folder",
        ["data", "convert", "hh-rlhf", "--input", "{train}", "--report", "{tmp}/out-folder"],
        "is a folder; name a file",
    ),
    # /proc: no process can make anything there, not even root (for whom permission bits say "writable")
    ("output-dir-unwritable", ["RUN", "output_dir=/proc/x"], "output_dir=/proc/x: cannot write in /proc"),
    ("cp-destination-unwritable", ["cp", "dpo", "/proc/x.py"], "destination /proc/x.py: cannot write in /proc"),
    (
        "convert-output-unwritable",
        ["data", "convert", "hh-rlhf", "--input", "{train}", "--output", "/proc/x/o.jsonl"],
        "--output /proc/x/o.jsonl: cannot write in /proc",
    ),
    ("merge-output-unwritable", ["merge", "{tmp}/good-run", "--output", "/proc/x/merged"], "cannot write in /proc"),
]


def expand(items: list[str], faults: dict) -> list[str]:
    out = []
    for item in items:
        out += ["run", "hh-dpo", *faults["base"]] if item == "RUN" else [fill(item, faults)]
    return out


def fill(text: str, faults: dict) -> str:
    return text.format(tmp=faults["tmp"], train=faults["base"][1].removeprefix("dataset="))


@pytest.fixture(scope="module")
def cheap_results(faults, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("driver")
    (tmp / "driver.py").write_text(DRIVER)
    cases = [(case_id, expand(args, faults)) for case_id, args, _ in CHEAP_CASES]
    (tmp / "cases.json").write_text(json.dumps([HEAVY, cases]))
    proc = subprocess.run(
        [sys.executable, str(tmp / "driver.py"), str(tmp / "cases.json"), str(tmp / "results.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp / "results.json").read_text())


@pytest.mark.parametrize(
    "case_id, fragment", [(case[0], case[2]) for case in CHEAP_CASES], ids=[case[0] for case in CHEAP_CASES]
)
def test_user_fault_is_one_line_exit_2_before_anything_heavy(faults, cheap_results, case_id, fragment):
    if "/proc" in fragment and not HAS_PROC:
        pytest.skip("no /proc here")
    result = cheap_results[case_id]
    assert result["exit_code"] == 2, result
    assert result["stderr"].startswith("error: ") and result["stderr"].count("\n") == 1, result["stderr"]
    assert fill(fragment, faults) in result["stderr"]
    assert result["heavy"] == [], f"imported before the error: {result['heavy']}"


def test_the_cheap_cases_leave_nothing_behind(faults, cheap_results):
    tmp = faults["tmp"]
    assert not (tmp / "never-made").exists() and not (tmp / "merged").exists()
    assert list((tmp / "out-folder").iterdir()) == []
    assert not list(tmp.rglob(".trlrecipes-write-check-*"))  # the write probe removes itself
    assert not (tmp / "moved-run" / "eval.json").exists()


def test_a_sound_run_folder_passes_the_checks(faults):
    from trlrecipes.tools.loading import open_run as load_run_config

    assert load_run_config(faults["good_run"])["model"] == faults["base"][0].removeprefix("model=")


# --- faults that need transformers to judge, or the model loaded ------------------------------------------------
def copy_with_config(source: Path, target: Path, **changes) -> Path:
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **changes}))
    return target


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


def test_check_writable_tells_files_from_folders(tmp_path):
    from trlrecipes.paths import check_writable

    check_writable(tmp_path / "new" / "deeper" / "run", "output_dir", folder=True)  # made later, not now
    check_writable(tmp_path / "out.jsonl", "--output", folder=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_writable(tmp_path / "file", "output_dir", folder=True)
    with pytest.raises(UserError, match="is a folder; name a file"):
        check_writable(tmp_path, "--output", folder=False)


REWARDS = """
def raises(prompt, response):
    return {"a": 1}["missing"]

def one_argument(text):
    return 1.0

def keyword_only(*, prompt, response):
    return 1.0

def not_a_number(prompt, response):
    return "good"
"""


@pytest.mark.parametrize(
    "function, fragment, loads",
    [
        (
            "raises",
            "reward faulty_rewards:raises raised KeyError: 'missing' on prompt 'How do I boil an egg?'; fix the "
            "function and rerun",
            True,
        ),
        (
            "one_argument",
            "reward faulty_rewards:one_argument takes (text), but it is called as fn(prompt, response)",
            False,
        ),
        ("keyword_only", "takes (*, prompt, response), but it is called as fn(prompt, response)", False),
        ("not_a_number", "returned 'good' (a str), not a number, for prompt 'How do I boil an egg?'", True),
    ],
)
def test_synth_reward_faults_are_one_line(tiny_model, tmp_path, monkeypatch, function, fragment, loads):
    from trlrecipes.tools import synth

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "faulty_rewards.py").write_text(REWARDS)
    (tmp_path / "prompts.txt").write_text("How do I boil an egg?\n")
    loaded = []
    real_load = synth.load_policy
    monkeypatch.setattr(synth, "load_policy", lambda *a, **k: loaded.append(1) or real_load(*a, **k))
    result = CliRunner().invoke(
        app,
        [
            "synth",
            "prompts.txt",
            "--output",
            "pairs.jsonl",
            "--model",
            str(tiny_model),
            "--reward",
            f"faulty_rewards:{function}",
            "--num-samples",
            "2",
            "--max-new-tokens",
            "4",
        ],
    )
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]  # after the progress lines of sampling, when it got that far
    assert last.startswith("error: ") and fragment in last, result.stderr
    assert "Traceback" not in result.stderr
    assert bool(loaded) == loads  # a wrong signature is refused before the model is loaded


def test_synth_model_faults_are_found_before_loading(tiny_model, tmp_path, monkeypatch):
    from trlrecipes.tools import synth

    monkeypatch.setattr(synth, "load_policy", lambda *a, **k: pytest.fail("loaded a model that cannot load"))
    broken = copy_with_config(tiny_model, tmp_path / "broken", model_type="lama")
    (tmp_path / "prompts.txt").write_text("hi\n")
    (tmp_path / "rewards.py").write_text("def score(prompt, response):\n    return 1.0\n")
    for option, value, fragment in (
        ("--model", str(broken), f"--model {broken}: {broken / 'config.json'} names model_type 'lama'"),
        ("--model", "my model", "--model my model: neither a local folder nor a valid"),
        ("--reward-model", str(broken), f"--reward-model {broken}: "),
    ):
        other = (
            ["--model", str(tiny_model)]
            if option == "--reward-model"
            else ["--reward", f"{tmp_path / 'rewards.py'}:score"]
        )
        result = CliRunner().invoke(
            app, ["synth", str(tmp_path / "prompts.txt"), "--output", str(tmp_path / "o.jsonl"), *other, option, value]
        )
        assert result.exit_code == 2 and fragment in result.stderr, result.output


def test_resume_command_holds_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = resume_command("trlrecipes run hh-dpo", RunFlags(config_file="settings.yaml"), Path("runs/x"))
    assert f"output_dir={tmp_path / 'runs' / 'x'}" in command
    assert f"--config {tmp_path / 'settings.yaml'}" in command


def test_deepspeed_launch_precision_must_match_the_run(monkeypatch):
    """Measured: `accelerate launch --config_file deepspeed-zero2.yaml` (mixed_precision bf16) on CPU, where the run
    trains in fp32, failed with exit 1 after loading ("ds bf16.enabled=True vs hf bf16|bf16_full_eval=False")."""
    from types import SimpleNamespace

    from trlrecipes.hardware import pick_precision
    from trlrecipes.run.preflight import preflight_late

    ours = pick_precision("auto").name
    other = "fp16" if ours == "bf16" else "bf16"
    cfg = SimpleNamespace(model="", precision="auto")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", other)
    flag = "no" if ours == "fp32" else ours
    with pytest.raises(
        UserError,
        match=rf"runs DeepSpeed in {other} .* this run trains in {ours} \(precision=auto\); "
        rf"pass --mixed_precision {flag} to accelerate launch",
    ):
        preflight_late(cfg)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    preflight_late(cfg)  # fp32 launch: DeepSpeed follows the run's precision
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", other)
    preflight_late(cfg)  # not DeepSpeed: the mismatch error above is DeepSpeed's, this check leaves others alone
