"""The command line: ls, cp, run --dry-run, typed overrides, clear errors with exit code 2, fast start."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from trlrecipes.cli import app
from trlrecipes.run.recipes import builtin_dir, builtin_names

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def dry_run(*args) -> dict:
    result = invoke("run", *args, "--dry-run")
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def test_ls_lists_programs_and_presets_with_method_and_dataset():
    result = invoke("ls")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["recipe", "kind", "method", "dataset"]
    listed = {line.split()[0]: tuple(line.split()[1:3]) for line in lines[1:]}
    assert set(listed) == set(builtin_names())
    assert {
        "dpo": ("program", "DPO"),
        "orpo": ("program", "ORPO"),
        "kto": ("program", "KTO"),
        "hh-dpo": ("preset", "DPO"),
        "hh-ipo": ("preset", "IPO"),
        "hh-orpo": ("preset", "ORPO"),
    }.items() <= listed.items()


def test_cp_program_writes_it_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mine.py"
    result = invoke("cp", "dpo", str(target))
    assert result.exit_code == 0 and f"trlrecipes run {target}" in result.output
    assert target.read_text() == (builtin_dir() / "dpo.py").read_text()
    target.write_text(target.read_text() + "# my edit\n")
    refused = invoke("cp", "dpo", str(target))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert target.read_text().endswith("# my edit\n")
    assert invoke("cp", "dpo", str(target), "--force").exit_code == 0
    assert not target.read_text().endswith("# my edit\n")


def test_cp_preset_writes_it_with_its_program_beside_it(tmp_path):
    result = invoke("cp", "hh-orpo", str(tmp_path))
    assert result.exit_code == 0, result.output
    preset, program = tmp_path / "hh-orpo.yaml", tmp_path / "orpo.py"
    assert program.read_text() == (builtin_dir() / "orpo.py").read_text()
    assert yaml.safe_load(preset.read_text())["program"] == "orpo.py"
    assert invoke("cp", "hh-dpo", str(tmp_path / "x.py")).exit_code == 2  # a preset is not a .py file
    result = invoke("cp", "hh-dp", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2 and "did you mean 'hh-dpo'" in result.output


def test_copied_preset_runs_outside_the_checkout_and_its_edits_change_the_run(tmp_path):
    """The copy holds no reference to the installed recipes folder: edit the preset or the program, the run changes."""
    folder = tmp_path / "elsewhere"
    assert invoke("cp", "ultrafeedback-dpo", str(folder / "uf.yaml")).exit_code == 0
    preset = folder / "uf.yaml"
    preset.write_text(preset.read_text().replace("beta: 0.01", "beta: 0.03"))
    program = folder / "dpo.py"
    program.write_text(program.read_text().replace("learning_rate: float = 5e-6", "learning_rate: float = 7e-6"))
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    for command in (
        [sys.executable, "-m", "trlrecipes.cli", "run", "uf.yaml", "--dry-run"],
        [sys.executable, "dpo.py", "--config", "uf.yaml", "--dry-run"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        cfg = yaml.safe_load(done.stdout)
        assert (cfg["beta"], cfg["learning_rate"], cfg["split"]) == (0.03, 7e-6, "train_prefs"), command


def test_overrides_are_coerced_by_declared_type():
    cfg = dry_run(
        "hh-dpo",
        "learning_rate=5e-6",
        "max_steps=10",
        "load_in_4bit=true",
        "num_train_epochs=2",
        "trl.weight_decay=0.01",
        "trl.lr_scheduler_type=cosine",
    )
    assert cfg["learning_rate"] == 5e-6 and isinstance(cfg["learning_rate"], float)
    assert cfg["max_steps"] == 10 and cfg["load_in_4bit"] is True and cfg["num_train_epochs"] == 2.0
    assert cfg["trl"] == {"weight_decay": 0.01, "lr_scheduler_type": "cosine"}


def test_precedence_defaults_then_yaml_then_command_line(tmp_path):
    # PyYAML reads 5e-6 as a string: the declared float type must still win.
    config = tmp_path / "settings.yaml"
    config.write_text("learning_rate: 5e-6\nbeta: 0.2\nlora_r: 8\ntrl:\n  weight_decay: 0.05\n")
    cfg = dry_run("hh-dpo", "--config", str(config), "beta=0.3")
    assert cfg["learning_rate"] == 5e-6 and cfg["beta"] == 0.3 and cfg["lora_r"] == 8
    assert cfg["trl"] == {"weight_decay": 0.05}
    assert cfg["lora_alpha"] == 32  # untouched default


def test_copied_recipe_runs_on_its_own_and_imports_its_siblings(tmp_path):
    target = tmp_path / "my_recipe.py"
    invoke("cp", "dpo", str(target))
    (tmp_path / "my_defaults.py").write_text("BETA = 0.25\n")
    source = target.read_text().replace("    beta: float = 0.1", "    beta: float = __import__('my_defaults').BETA")
    target.write_text(source)
    assert dry_run(str(target))["beta"] == 0.25
    direct = subprocess.run(
        [sys.executable, str(target), "--dry-run", "lora_r=4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert direct.returncode == 0, direct.stderr
    cfg = yaml.safe_load(direct.stdout)
    assert cfg["beta"] == 0.25 and cfg["lora_r"] == 4
    bad = subprocess.run(
        [sys.executable, str(target), "--dry-run", "lora_rank=4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert bad.returncode == 2 and "did you mean 'lora_r'" in bad.stderr


def test_help_and_ls_do_not_import_torch_or_trl():
    code = (
        "import sys\nfrom trlrecipes.cli import app\n"
        "for args in (['--help'], ['ls'], ['run', 'hh-dpo', '--dry-run']):\n"
        "    try:\n        app(args)\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('torch', 'trl', 'transformers', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_wheel_ships_the_same_recipes(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("trlrecipes-*.whl"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    code = (
        "from trlrecipes.run.recipes import builtin_dir, builtin_names; print(builtin_dir()); print(*builtin_names())"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    folder, names = listed.stdout.splitlines()
    assert folder.startswith(str(tmp_path / "site"))
    assert names.split() == builtin_names()
    demo_data = tmp_path / "site" / "trlrecipes" / "demo"
    assert (demo_data / "train.jsonl").is_file() and (demo_data / "test.jsonl").is_file()
