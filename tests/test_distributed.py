"""Two training processes on CPU (gloo): a recipe run as a script under torchrun writes one run, once; and the same
run launched with the shipped accelerate configs (configs/accelerate/: FSDP, DeepSpeed ZeRO-2 and ZeRO-3).

`torchrun --standalone --nproc_per_node 2 recipes/dpo.py key=value ...` is the launcher that works on a CPU-only
machine here (`accelerate launch --cpu --num_processes 2` starts a single process with accelerate 1.15; see
benchmarks/README.md). `accelerate launch --config_file <fsdp|deepspeed>.yaml` without --cpu starts both processes
through torchrun. Each process uses one thread, so the two do not fight over the cores.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from trlrecipes.errors import UserError
from trlrecipes.run.recipes import builtin_dir
from trlrecipes.testing import tiny_overrides

STEPS = 3
ACCELERATE_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"


def launch_env(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRL_EXPERIMENTAL_SILENCE": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
    }
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def run_overrides(tiny_model, hh_files, out: Path) -> list[str]:
    overrides = [item for item in tiny_overrides(tiny_model, *hh_files, out) if not item.startswith("max_steps=")]
    return overrides + [f"max_steps={STEPS}"]


def assert_one_run(out: Path, tmp_path: Path, output: str) -> dict:
    """Both processes trained one run, written once by the main process; returns run.json."""
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
    return json.loads((out / "run.json").read_text())


@pytest.mark.slow
def test_two_processes_write_one_run(tiny_model, hh_files, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        str(builtin_dir() / "dpo.py"),
        *run_overrides(tiny_model, hh_files, out),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=launch_env(tmp_path), capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    info = assert_one_run(out, tmp_path, output)
    assert info["distributed"] == {"engine": "MULTI_CPU", "processes": 2, "asked": "MULTI_CPU"}


@pytest.mark.slow
def test_several_processes_need_an_output_dir(tiny_model, hh_files, tmp_path):
    """Each process picks runs/<recipe>-<time> itself; when their clocks straddle a second, rank 1 writes its
    checkpoint RNG state into a second folder and the run's checkpoints cannot be resumed exactly. The runner must
    refuse an empty output_dir under a multi-process launch, before anything is written."""
    overrides = [
        item
        for item in tiny_overrides(tiny_model, *hh_files, tmp_path / "unused")
        if not item.startswith("output_dir=")
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets"),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        str(builtin_dir() / "dpo.py"),
        *overrides,
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "output_dir" in proc.stdout + proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "name, engine, shard",
    [
        ("ddp", "MULTI_GPU", "none"),
        ("deepspeed-zero2", "DEEPSPEED", "zero2"),
        ("deepspeed-zero3", "DEEPSPEED", "zero3"),
        ("fsdp", "FSDP", "fsdp"),
    ],
)
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


# --- the shipped accelerate configs, launched ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_launch(config: str, tiny_model, hh_files, tmp_path: Path):
    """`accelerate launch --config_file configs/accelerate/<config>.yaml` on 2 CPU processes, running the CLI module
    (`-m trlrecipes.cli run hh-dpo`). The configs are written for GPUs: --num_processes 2 for this machine and
    --mixed_precision no, because CPU training is fp32 (bf16 there is ~14x slower)."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ACCELERATE_CONFIGS / f"{config}.yaml"),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "trlrecipes.cli",
        "run",
        "hh-dpo",
        *run_overrides(tiny_model, hh_files, out),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=launch_env(tmp_path), capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return out, output


def assert_adapter_loads(out: Path, tiny_model: Path) -> None:
    """The run's adapter loads the way `trlrecipes eval` loads it, whole (every LoRA matrix at its full shape, none
    left as an empty shard) and trained (lora_B starts at zero; the learning rate is above 0 from step 2)."""
    from trlrecipes.tools.loading import load_policy
    from trlrecipes.tools.loading import open_run as load_run_config

    model, _ = load_policy(out, load_run_config(out))
    lora = {name: param for name, param in model.named_parameters() if "lora_" in name}
    assert lora and all(param.numel() > 0 for param in lora.values())
    assert any(param.abs().sum() > 0 for name, param in lora.items() if "lora_B" in name)


@pytest.mark.slow
def test_fsdp_config_launches_one_run_on_cpu(tiny_model, hh_files, tmp_path):
    """accelerate 1.15 applies FSDP only on GPUs (its state sets DistributedType.FSDP for GPU-type launches, never
    for MULTI_CPU), so on CPU the FSDP config trains as DDP. The run must still be one run, and say which engine ran
    instead of leaving the user to believe the model was sharded. Where FSDP does run, the note must not appear."""
    out, output = accelerate_launch("fsdp", tiny_model, hh_files, tmp_path)
    info = assert_one_run(out, tmp_path, output)
    engine = info["distributed"]["engine"]
    assert info["distributed"]["asked"] == "FSDP" and info["distributed"]["processes"] == 2
    assert engine in ("FSDP", "MULTI_CPU")
    assert output.count("note: FSDP was asked for, but accelerate runs these 2 process(es) as MULTI_CPU") == (
        engine != "FSDP"
    )
    assert_adapter_loads(out, tiny_model)


def deepspeed_missing() -> str:
    if importlib.util.find_spec("deepspeed") is None:
        return "deepspeed is not installed (pip install deepspeed)"
    if not (shutil.which("c++") or shutil.which("g++")):
        return "DeepSpeed compiles its CPU communication op at first use: no C++ compiler here"
    return ""


@pytest.mark.slow
@pytest.mark.skipif(bool(deepspeed_missing()), reason=deepspeed_missing() or "-")
@pytest.mark.parametrize("config, stage", [("deepspeed-zero2", 2), ("deepspeed-zero3", 3)])
def test_deepspeed_configs_launch_one_run_on_cpu(tiny_model, hh_files, tmp_path, config, stage):
    """DeepSpeed runs on CPU (its CPU accelerator, gloo): optimizer states (ZeRO-2) and the weights too (ZeRO-3)
    are split between the 2 processes, one file per rank in the checkpoint; the saved adapter is gathered whole."""
    out, output = accelerate_launch(config, tiny_model, hh_files, tmp_path)
    info = assert_one_run(out, tmp_path, output)
    assert info["distributed"] == {"engine": "DEEPSPEED", "processes": 2, "asked": "DEEPSPEED"}
    shards = sorted(p.name for p in (out / f"checkpoint-{STEPS}" / f"global_step{STEPS}").iterdir())
    assert [name for name in shards if "optim_states" in name] == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "zero_pp_rank_1_mp_rank_00_optim_states.pt",
    ]
    model_states = [name for name in shards if "model_states" in name]
    assert len(model_states) == (2 if stage == 3 else 1)  # ZeRO-3: each rank holds its part of the weights
    assert "was asked for, but accelerate runs" not in output
    assert_adapter_loads(out, tiny_model)


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
