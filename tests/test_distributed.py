"""Two training processes on CPU (gloo): a recipe run as a script under torchrun writes one run, once.

`torchrun --standalone --nproc_per_node 2 recipes/hh-dpo.py key=value ...` is the launcher that works on a CPU-only
machine here (`accelerate launch --cpu --num_processes 2` starts a single process with accelerate 1.15; see
benchmarks/README.md). Each process uses one thread, so the two do not fight over the cores.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_overrides
from trlrecipes.run.programs import builtin_dir

STEPS = 3


@pytest.mark.slow
def test_two_processes_write_one_run(tiny_model, hh_files, tmp_path):
    out = tmp_path / "run"
    overrides = [item for item in tiny_overrides(tiny_model, *hh_files, out) if not item.startswith("max_steps=")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TRL_EXPERIMENTAL_SILENCE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(builtin_dir() / "dpo.py"), *overrides, f"max_steps={STEPS}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    # One run folder, nothing else written beside it (no second auto-named run, no stray runs/ folder).
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "hf-datasets") == ["run"]
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    assert json.loads((out / "run.json").read_text())["global_step"] == STEPS

    # Both processes trained: the checkpoint holds one RNG state per process, and each step consumed 2 x 2 pairs
    # of the 24 (epoch 4/24 per step instead of 2/24 for one process).
    checkpoint = out / f"checkpoint-{STEPS}"
    assert sorted(p.name for p in checkpoint.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS

    # Written by the main process only: every step logged once, one eval log, the adapter saved once at the top level.
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_logs = [log for log in logs if "loss" in log]
    assert [log["step"] for log in train_logs] == list(range(1, STEPS + 1))
    assert train_logs[-1]["epoch"] == pytest.approx(STEPS * 4 / 24)
    assert [log["step"] for log in logs if "eval_loss" in log] == [STEPS]
    assert (out / "adapter_model.safetensors").is_file()
    assert len(list(tmp_path.rglob("adapter_model.safetensors"))) == 2  # the run's adapter + checkpoint-3's copy
    assert output.count("adapter and tokenizer saved in") == 1  # printed by rank 0 alone


@pytest.mark.slow
def test_several_processes_need_an_output_dir(tiny_model, hh_files, tmp_path):
    """Each process picks runs/<recipe>-<time> itself; when their clocks straddle a second, rank 1 writes its
    checkpoint RNG state into a second folder and the run's checkpoints cannot be resumed exactly. The runner must
    refuse an empty output_dir under a multi-process launch, before anything is written."""
    overrides = [item for item in tiny_overrides(tiny_model, *hh_files, tmp_path / "unused")
                 if not item.startswith("output_dir=")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(builtin_dir() / "dpo.py"), *overrides]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "output_dir" in proc.stdout + proc.stderr
    assert not (tmp_path / "runs").exists()


ACCELERATE_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"


@pytest.mark.parametrize("name, engine, shard", [("ddp", "MULTI_GPU", "none"), ("deepspeed-zero2", "DEEPSPEED", "zero2"),
                                                 ("deepspeed-zero3", "DEEPSPEED", "zero3"), ("fsdp", "FSDP", "fsdp")])
def test_accelerate_configs_load_and_name_their_plan(name, engine, shard):
    """Each shipped launch config is read by accelerate's own loader, and its comment's plan command matches it."""
    from accelerate.commands.config.config_args import load_config_from_file

    path = ACCELERATE_CONFIGS / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type.name == engine and config.num_processes > 1
    plan_line = next(line for line in path.read_text().splitlines() if "trlrecipes plan" in line)
    assert f"--processes {config.num_processes}" in plan_line
    assert (f"--shard {shard}" in plan_line) == (shard != "none")
    if engine == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == int(shard[-1])
