"""A fault the user can fix is one line on stderr and exit 2, found before anything heavy loads, and nothing is
written: not a new run folder, not a byte of an old one (issues #14, #18).

One table of cases, one driver. The driver runs every case through the CLI (typer's CliRunner) in one subprocess,
which also records whether anything heavy (torch, transformers, trl, ...) was imported before the error and whether
anything under the cases' folder changed (every path, size and mtime) while the case ran. A new bad input is a row
here; the checkers' own unit tests follow the table.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trlrecipes.errors import UserError
from trlrecipes.run.record import RunRecord
from trlrecipes.testing import fake_run_folder, hh_rows, subprocess_env, tiny_overrides, write_jsonl

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes")
HAS_PROC = Path("/proc/self").exists()  # a folder no process can make anything in, even as root
FIXTURES = Path(__file__).parent / "fixtures"

# --- the table ------------------------------------------------------------------------------------------------------
# (id, command arguments, what the error line must name). Placeholders: {tmp} the cases' folder (watched), {model}
# the tiny model, {train} the tiny training file, {fixtures} tests/fixtures. "TINY" stands for the tiny-model settings
# (trlrecipes.testing.tiny_overrides) with output_dir={tmp}/never-made; a later output_dir= replaces it.
RUN = ["run", "hh-dpo", "TINY"]
# {tmp}/old: a run interrupted at step 2 (beta 0.1). Most cases replace it with --overwrite: the most destructive flag
# must not touch the old run on a bad input.
OLD = [*RUN, "output_dir={tmp}/old", "--overwrite"]
# {tmp}/done: a completed, evaluated hh-dpo run with a real LoRA adapter (eval, generate and merge read it)
DONE = "{tmp}/done"
SYNTH = ["synth", "{tmp}/prompts.txt", "--output", "{tmp}/o.jsonl", "--model", "{model}", "--max-new-tokens", "4"]

CASES = [
    # models
    (
        "model-config-not-json",
        [*RUN, "model={tmp}/broken-json-model"],
        "model={tmp}/broken-json-model: {tmp}/broken-json-model/config.json is not valid JSON",
    ),
    ("model-name-with-spaces", [*RUN, "model=my model"], "model=my model: neither a local folder nor a valid Hub id"),
    ("model-is-a-file", [*RUN, "model={tmp}/a-file"], "is a file, not a model folder"),
    ("model-folder-missing", [*OLD, "model={tmp}/no-such-model"], "folder not found"),
    ("model-folder-not-a-model", [*OLD, "model={tmp}/not-a-model"], "no config.json"),
    ("model-not-cached-offline", [*OLD, "model=nobody-xyz/no-such-model"], "not in the local Hugging Face cache"),
    # settings
    ("unknown-key", [*OLD, "learning_rat=1e-5"], "did you mean 'learning_rate'"),
    ("wrong-type", [*OLD, "beta=high"], "'beta': 'high' is not a number"),
    ("wrong-bool", [*OLD, "activation_checkpointing=maybe"], "not a boolean"),
    ("negative-learning-rate", [*OLD, "learning_rate=-1e-5"], "learning_rate=-1e-05 is impossible"),
    ("zero-beta", [*OLD, "beta=0"], "beta=0.0 is impossible"),
    ("zero-batch-size", [*OLD, "per_device_train_batch_size=0"], "per_device_train_batch_size=0"),
    ("max-length-too-small", [*OLD, "max_length=8"], "max_length=8 is too small"),
    ("save-not-multiple-of-logging", [*OLD, "logging_steps=2", "save_steps=3"], "multiple of logging_steps"),
    ("negative-eval-steps", [*OLD, "eval_steps=-1"], "eval_steps=-1 is impossible"),
    ("lora-dropout", [*OLD, "lora_dropout=1.5"], "lora_dropout=1.5"),
    ("unknown-precision", [*OLD, "precision=fp8"], "precision='fp8'"),
    ("override-without-value", [*OLD, "beta"], "use key=value"),
    ("4bit-without-bitsandbytes", [*OLD, "load_in_4bit=true"], "bitsandbytes"),  # bitsandbytes hidden: HIDE below
    ("loss-type-misspelt", [*RUN, "loss_type=sigmod"], "did you mean 'sigmoid'"),
    ("loss-type-mixture-misspelt", [*RUN, "loss_type=sigmoid,sfft"], "did you mean 'sft'"),
    ("loss-weights-count", [*RUN, "loss_type=sigmoid,sft", "loss_weights=1.0"], "give one weight per name"),
    (
        "kto-device-batch-of-one",
        ["run", "hh-kto", "model={model}", "output_dir={tmp}/never-made", "per_device_train_batch_size=1"],
        "per_device_train_batch_size=1: KTO needs at least 2 rows",
    ),
    (
        "pku-unknown-axis",
        [
            "run",
            "pku-safe-dpo",
            "model={model}",
            "output_dir={tmp}/never-made",
            "dataset={fixtures}/pku_saferlhf.jsonl",
            "axis=harmless",
        ],
        "axis must be one of safe, helpful",
    ),
    # settings, --dry-run (nothing is checked on disk, the values still are)
    (
        "dry-unknown-key",
        ["run", "hh-dpo", "learnig_rate=5e-6", "--dry-run"],
        "unknown key 'learnig_rate'; did you mean 'learning_rate'?",
    ),
    ("dry-not-a-number", ["run", "hh-dpo", "beta=abc", "--dry-run"], "bad value for 'beta': 'abc' is not a number"),
    (
        "dry-not-an-integer",
        ["run", "hh-dpo", "max_steps=1.5", "--dry-run"],
        "bad value for 'max_steps': '1.5' is not an integer",
    ),
    ("dry-not-a-boolean", ["run", "hh-dpo", "load_in_4bit=maybe", "--dry-run"], "is not a boolean"),
    (
        "dry-warmup-ratio",
        ["run", "hh-dpo", "warmup_ratio=0.1", "--dry-run"],
        "unknown key 'warmup_ratio'; did you mean 'warmup'?",
    ),
    ("dry-trl-field-at-top", ["run", "hh-dpo", "weight_decay=0.1", "--dry-run"], "use 'trl.weight_decay=0.1'"),
    (
        "dry-trl-field-misspelt",
        ["run", "hh-dpo", "trl.weight_decy=0.1", "--dry-run"],
        "did you mean 'trl.weight_decay'?",
    ),
    ("dry-own-field-under-trl", ["run", "hh-dpo", "trl.beta=0.2", "--dry-run"], "set it as 'beta=0.2'"),
    ("dry-without-value", ["run", "hh-dpo", "beta", "--dry-run"], "use key=value"),
    (
        "dry-negative-learning-rate",
        ["run", "hh-dpo", "learning_rate=-1e-5", "--dry-run"],
        "learning_rate=-1e-05 is impossible",
    ),
    ("dry-zero-beta", ["run", "hh-dpo", "beta=0", "--dry-run"], "beta=0.0 is impossible"),
    (
        "dry-zero-batch",
        ["run", "hh-dpo", "per_device_train_batch_size=0", "--dry-run"],
        "per_device_train_batch_size=0 is impossible",
    ),
    ("dry-unknown-recipe", ["run", "hh-dpx", "--dry-run"], "did you mean 'hh-dpo'"),
    ("dry-config-not-a-mapping", ["run", "hh-dpo", "--config", "{tmp}/list.yaml", "--dry-run"], "expected a mapping"),
    # --config
    ("config-file-missing", [*OLD, "--config", "{tmp}/missing.yaml"], "config file not found"),
    ("config-not-text", [*RUN, "--config", "{tmp}/binary.yaml"], "is not a text file (byte 128 is not UTF-8)"),
    ("config-is-a-folder", [*RUN, "--config", "{tmp}"], "--config {tmp} is a folder; pass a YAML file"),
    # data
    ("data-missing", [*OLD, "dataset={tmp}/data/missing.jsonl"], "file not found"),
    ("data-empty", [*OLD, "dataset={tmp}/data/empty.jsonl"], "the file is empty"),
    ("data-not-json-lines", [*OLD, "dataset={tmp}/data/not-json.jsonl"], "not valid JSON"),
    ("data-field-missing", [*OLD, "dataset={tmp}/data/no-rejected.jsonl"], "missing field(s) 'rejected'"),
    ("data-no-usable-rows", [*OLD, "dataset={tmp}/data/identical.jsonl"], "identical_replies"),
    ("eval-data-not-json-lines", [*OLD, "eval_dataset={tmp}/data/not-json.jsonl"], "eval_dataset"),
    ("data-is-a-folder", [*OLD, "dataset={tmp}/data"], "is a folder"),
    ("data-format-unknown", [*OLD, "data_format=nope"], "unknown data format 'nope'"),
    (
        "custom-dpo-without-dataset",
        ["run", "custom-dpo", "model={model}", "output_dir={tmp}/never-made"],
        "set dataset=path/to/file.jsonl",
    ),
    # the run folder: new, old, someone else's
    ("fresh-folder-bad-value", [*RUN, "output_dir={tmp}/fresh", "beta=0"], "beta=0.0 is impossible"),
    (
        "fresh-folder-no-usable-rows",
        [*RUN, "output_dir={tmp}/fresh", "dataset={tmp}/data/identical.jsonl"],
        "identical_replies",
    ),
    (
        "existing-run-without-flag",
        [*RUN, "output_dir={tmp}/old"],
        "pass --resume to continue it or --overwrite to replace it",
    ),
    ("resume-nothing", [*RUN, "output_dir={tmp}/fresh", "--resume"], "holds no run to continue"),
    ("resume-with-changed-beta", [*RUN, "output_dir={tmp}/old", "--resume", "beta=0.2"], "beta: 0.1 -> 0.2"),
    ("resume-and-overwrite", [*OLD, "--resume"], "contradict"),
    (
        "overwrite-a-folder-that-is-no-run",
        [*RUN, "output_dir={tmp}/not-a-run", "--overwrite"],
        "holds no trlrecipes run",
    ),
    (
        "output-dir-under-a-file",
        [*RUN, "output_dir={tmp}/a-file/run"],
        "{tmp}/a-file is a file, so {tmp}/a-file/run cannot be made there",
    ),
    # /proc: no process can make anything there, not even root (for whom permission bits say "writable")
    ("output-dir-unwritable", [*RUN, "output_dir=/proc/x"], "output_dir=/proc/x: cannot write in /proc"),
    ("cp-destination-unwritable", ["cp", "dpo", "/proc/x.py"], "destination /proc/x.py: cannot write in /proc"),
    # run folders read by eval, generate, merge, plot, report
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
    ("eval-not-a-run-folder", ["eval", "{tmp}/out-folder"], "not a trlrecipes run folder"),
    ("eval-negative-max-rows", ["eval", DONE, "--max-rows", "-5"], "--max-rows -5: must be 0"),
    ("eval-judge-without-generate", ["eval", DONE, "--reward", "x:y"], "only apply with --generate"),
    ("eval-generate-without-judge", ["eval", DONE, "--generate"], "needs a judge"),
    (
        "eval-samples-without-temperature",
        ["eval", DONE, "--generate", "--reward", "x:y", "--samples", "2"],
        "identical replies",
    ),
    ("eval-judge-is-no-reward-model", ["eval", DONE, "--generate", "--reward-model", DONE], "not a reward model"),
    (
        "generate-zero-new-tokens",
        ["generate", DONE, "--prompt", "hi", "--max-new-tokens", "0"],
        "--max-new-tokens 0: must be at least 1",
    ),
    ("generate-empty-prompt", ["generate", DONE, "--prompt", ""], "--prompt '' is empty"),
    ("generate-blank-prompt", ["generate", DONE, "--prompt", "  "], "--prompt '  ' is empty"),
    ("merge-output-unwritable", ["merge", DONE, "--output", "/proc/x/merged"], "cannot write in /proc"),
    ("plot-binary-metrics", ["plot", "{tmp}/binary-run"], "metrics.jsonl is not a text file of JSON lines"),
    ("report-not-a-run-folder", ["report", "{tmp}/out-folder"], "not a trlrecipes run folder"),
    # data convert
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
    (
        "convert-output-unwritable",
        ["data", "convert", "hh-rlhf", "--input", "{train}", "--output", "/proc/x/o.jsonl"],
        "--output /proc/x/o.jsonl: cannot write in /proc",
    ),
    # synth
    ("synth-reward-module-missing", [*SYNTH, "--num-samples", "2", "--reward", "nosuchmodule_xyz:score"], "no module"),
    ("synth-no-judge", [*SYNTH, "--num-samples", "2"], "exactly one reward"),
    (
        "synth-two-judges",
        [*SYNTH, "--num-samples", "2", "--reward", "x:y", "--reward-model", "{model}"],
        "exactly one reward",
    ),
    ("synth-one-sample", [*SYNTH, "--reward-model", "{model}", "--num-samples", "1"], "at least 2"),
    (
        "synth-prompts-missing",
        ["synth", "{tmp}/none.txt", "--output", "{tmp}/o.jsonl", "--model", "{model}", "--reward", "x:y"],
        "not found",
    ),
]
# Values TRL, transformers or torch would reject only once training starts (an --overwrite had emptied the old run by
# then): each is refused up front, under --overwrite of the completed run and under --dry-run.
LATE_VALUES = [
    ("hh-dpo", "learning_rate=nan", "learning_rate=nan is impossible: it must be a finite number"),
    ("hh-dpo", "learning_rate=inf", "learning_rate=inf is far too high"),
    ("hh-dpo", "beta=nan", "beta=nan is impossible"),
    ("hh-dpo", "trl.weight_decay=nan", "trl.weight_decay=nan is impossible"),
    ("hh-dpo", "loss_type=bogus", "loss_type='bogus' is not one of the losses TRL's DPOConfig knows (sigmoid, hinge"),
    ("hh-dpo", "loss_type=ipoo", "did you mean 'ipo'?"),
    ("hh-kto", "trl.loss_type=sigmoid", "loss_type='sigmoid' is not one of the losses TRL's KTOConfig knows (kto, "),
    ("hh-dpo", "report_to=wandb", "report_to=wandb needs the wandb package, which is not installed"),
    ("hh-dpo", "report_to=nosuch", "report_to='nosuch' is not a tracker transformers knows"),
]
CASES += [
    (f"late-{value}{flag}", ["run", recipe, "TINY", f"output_dir={DONE}", value, flag], fragment)
    for recipe, value, fragment in LATE_VALUES
    for flag in ("--overwrite", "--dry-run")
]
# Packages hidden from a case (`import` fails, as when they are not installed).
HIDE = {"4bit-without-bitsandbytes": ["bitsandbytes"]}
# Cases whose error comes after the heavy libraries are imported: every other check holds for them. They run after all
# the others in the driver (what they import stays imported); each reason says why it imports, a bug or by design.
IMPORTS_FIRST = {
    "kto-device-batch-of-one": "bug: recipes/kto.py calls check_batch() in main(), after `from trl import`; as the "
    "program's check(cfg) it would come before anything loads",
    "custom-dpo-without-dataset": "bug: an empty dataset= is found by run/splits.py when the program loads its data, "
    "after TRL is imported; preflight could say it first",
    "dry-trl-field-at-top": "by design: the hint that weight_decay is a TRL field reads TRL's config class",
    "eval-judge-is-no-reward-model": "it loads the folder's model to look for a score head",
    **dict.fromkeys(
        [
            "dry-trl-field-misspelt",
            "late-trl.weight_decay=nan--overwrite",
            "late-trl.weight_decay=nan--dry-run",
            "late-trl.loss_type=sigmoid--overwrite",
            "late-trl.loss_type=sigmoid--dry-run",
        ],
        "by design: trl.* keys are checked against TRL's config class",
    ),
}


# --- the driver -----------------------------------------------------------------------------------------------------
DRIVER = r"""
import json, sys
from pathlib import Path

from typer.testing import CliRunner
from trlrecipes.cli import app
from trlrecipes.testing import snapshot

heavy, cases, watch = json.loads(Path(sys.argv[1]).read_text())


def state():
    # Each entry of the watched folder: a folder's every path with size and mtime, a file's size and mtime. A run
    # folder's own mtime is left out: taking and releasing its lock (a file made and removed) moves it.
    entries = sorted(Path(watch).iterdir())
    return {p.name: snapshot(p) if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns) for p in entries}


results = {}
for case in cases:
    for name in case["hide"]:
        sys.modules[name] = None  # `import name` now fails, as when the package is not installed
    before = state()
    result = CliRunner().invoke(app, case["args"])
    for name in case["hide"]:
        del sys.modules[name]
    after = state()
    results[case["id"]] = {
        "exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
        "heavy": sorted(name for name in heavy if sys.modules.get(name) is not None),
        "changed": sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name)),
    }
Path(sys.argv[2]).write_text(json.dumps(results))
"""


@pytest.fixture(scope="module")
def cases_folder(tiny_model, hh_files, tmp_path_factory) -> dict:
    """What the cases point at, all under one watched folder: broken models, run folders (an interrupted one, a
    completed one, copies whose base model moved or whose adapter was cut short), bad data and config files."""
    from trlrecipes.api import config
    from trlrecipes.run.resolve import to_dict

    tmp = tmp_path_factory.mktemp("user-faults")
    places = {"tmp": tmp, "model": tiny_model, "train": hh_files[0], "fixtures": FIXTURES}
    broken = tmp / "broken-json-model"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").write_text('{"model_type": "llama", ')
    (tmp / "not-a-model").mkdir()
    (tmp / "not-a-model" / "weights.bin").write_bytes(b"\0")
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "out-folder").mkdir()
    (tmp / "not-a-run").mkdir()
    (tmp / "not-a-run" / "notes.txt").write_text("my notes\n")
    (tmp / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (tmp / "list.yaml").write_text("- a list\n")
    (tmp / "prompts.txt").write_text("How do I boil an egg?\n")
    data = tmp / "data"
    data.mkdir()
    (data / "empty.jsonl").write_text("")
    (data / "not-json.jsonl").write_text('{"chosen": "a", "rejected": "b"}\nthis is not JSON\n')
    write_jsonl(data / "no-rejected.jsonl", [{"chosen": row["chosen"]} for row in hh_rows(3)])
    write_jsonl(data / "identical.jsonl", [{"chosen": row["chosen"], "rejected": row["chosen"]} for row in hh_rows(3)])

    def settings(folder: Path) -> dict:
        return to_dict(config("hh-dpo", *tiny_overrides(tiny_model, *hh_files, folder)))

    fake_run_folder(
        tmp / "old",
        base_model=tiny_model,
        config=settings(tmp / "old"),
        preset="hh-dpo",
        info={"status": "interrupted", "global_step": 2},
        metrics=[{"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.68}],
        checkpoints=[2],
    )
    done = fake_run_folder(
        tmp / "done",
        base_model=tiny_model,
        config=settings(tmp / "done"),
        preset="hh-dpo",
        info={"status": "completed", "global_step": 3},
        metrics=[{"step": 3, "loss": 0.6}],
        evaluation={"pairs": 8, "accuracy": 0.625, "margin": 0.3},
        adapter=True,
        checkpoints=[3],
    )
    moved = RunRecord(shutil.copytree(done, tmp / "moved-run"))
    moved.write_config({**moved.config(), "model": str(tmp / "model-that-moved")})
    truncated = shutil.copytree(done, tmp / "truncated-run")
    weights = truncated / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # the header survives, the tensors do not all fit
    (tmp / "binary-run").mkdir()
    (tmp / "binary-run" / "metrics.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)) * 8)
    return places


def fill(text: str, places: dict) -> str:
    return text.format(**places)


def expand(args: list[str], places: dict) -> list[str]:
    out = []
    for arg in args:
        if arg == "TINY":
            out += tiny_overrides(places["model"], *places["hh_files"], places["tmp"] / "never-made")
        else:
            out.append(fill(arg, places))
    return out


@pytest.fixture(scope="module")
def fault_results(cases_folder, hh_files, tmp_path_factory) -> dict:
    places = {**cases_folder, "hh_files": hh_files}
    driver = tmp_path_factory.mktemp("driver")
    (driver / "driver.py").write_text(DRIVER)
    ordered = sorted(CASES, key=lambda case: case[0] in IMPORTS_FIRST)  # what they import stays: they go last
    cases = [
        {"id": case_id, "args": expand(args, places), "hide": HIDE.get(case_id, [])} for case_id, args, _ in ordered
    ]
    (driver / "cases.json").write_text(json.dumps([HEAVY, cases, str(places["tmp"])]))
    proc = subprocess.run(
        [sys.executable, str(driver / "driver.py"), str(driver / "cases.json"), str(driver / "results.json")],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=300,
        cwd=places["tmp"],  # anything a case made in the current folder would show as a change
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((driver / "results.json").read_text())


def test_case_ids_are_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids)) and set(HIDE) | set(IMPORTS_FIRST) <= set(ids)


@pytest.mark.parametrize("case_id, words", [(case[0], case[2]) for case in CASES], ids=[case[0] for case in CASES])
def test_user_fault_is_one_line_exit_2_before_anything_heavy_and_writes_nothing(
    cases_folder, fault_results, case_id, words
):
    args = next(case[1] for case in CASES if case[0] == case_id)
    if any("/proc" in arg for arg in args) and not HAS_PROC:
        pytest.skip("no /proc here")
    result = fault_results[case_id]
    assert result["exit_code"] == 2, result
    assert result["stderr"].startswith("error: ") and result["stderr"].count("\n") == 1, result["stderr"]
    assert fill(words, cases_folder) in result["stderr"]
    assert result["stdout"] == ""
    if case_id not in IMPORTS_FIRST:
        assert result["heavy"] == [], f"imported before the error: {result['heavy']}"
    assert result["changed"] == [], f"written: {result['changed']}"


def test_the_run_folders_the_cases_read_are_sound_apart_from_their_fault(cases_folder, tiny_model):
    """The cases fail on what they name, not on the folders: the completed run passes every check of a run folder."""
    from trlrecipes.tools.loading import open_run

    assert open_run(cases_folder["tmp"] / "done")["model"] == str(tiny_model)


# --- the checkers ---------------------------------------------------------------------------------------------------
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


def test_the_loss_and_tracker_names_are_trls():
    """The late-value rows are refused from these lists, before TRL is imported: they must be TRL's own."""
    import dataclasses
    import inspect

    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
    from trl import DPOTrainer, KTOConfig

    from trlrecipes.run.preflight import LOSS_TYPES, TRACKERS

    source = inspect.getsource(DPOTrainer)
    listed = source[source.index("Unknown loss type") :].split("[", 1)[1].split("]", 1)[0]
    assert tuple(name.strip(" '\"\n") for name in listed.replace('"', "").split(",")) == LOSS_TYPES["DPOConfig"]
    kto = {f.name: f for f in dataclasses.fields(KTOConfig)}["loss_type"]
    assert tuple(kto.metadata["choices"]) == LOSS_TYPES["KTOConfig"]
    assert set(TRACKERS) == set(INTEGRATION_TO_CALLBACK)
