"""trlrecipes' own figures in the user's tracker, after training too.

During training the health callback sends its verdicts through the trainer's reporting callbacks (whatever
`report_to` named). Figures written after training — `trlrecipes eval`'s held-out accuracy and margin, a win rate
— come when those callbacks have closed their runs, so they are appended here to the same run of the local
trackers: TensorBoard (the run folder's event directory) and trackio (the run named like the folder, in its
project). Other trackers are told nothing after training; the figures are in eval.json and the model card.
"""

from __future__ import annotations

import sys
from pathlib import Path

PREFIX = "heldout/"  # tracker key of a post-training figure: heldout/accuracy, heldout/margin, heldout/win_rate


def _report_to(cfg: dict) -> list[str]:
    value = cfg.get("report_to") or "none"
    names = value if isinstance(value, list) else str(value).split(",")
    return [name.strip() for name in names if name.strip() not in ("", "none")]


def tensorboard_dir(run_dir: Path) -> Path:
    """The event folder the run's TensorBoardCallback wrote (the newest under runs/), else a new one."""
    folders = [path.parent for path in (run_dir / "runs").glob("*/events.out.tfevents.*")]
    if folders:
        return max(folders, key=lambda path: path.stat().st_mtime)
    return run_dir / "runs" / "trlrecipes"


def log_after_training(run_dir: str | Path, figures: dict, cfg: dict | None = None, step: int | None = None) -> list:
    """Append the numeric `figures` to the run's TensorBoard and trackio runs; returns the trackers written."""
    from trlrecipes.run.record import RunRecord

    run_dir = Path(run_dir)
    record = RunRecord(run_dir)
    cfg = cfg if cfg is not None else record.config()
    numbers = {
        PREFIX + key: float(value)
        for key, value in figures.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    trackers = _report_to(cfg)
    if not numbers or not trackers:
        return []
    if step is None:
        recorded = record.info().get("global_step")
        step = recorded if isinstance(recorded, int) else 0
    written = []
    if "tensorboard" in trackers:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(tensorboard_dir(run_dir)))
        for key, value in numbers.items():
            writer.add_scalar(key, value, step)
        writer.close()
        written.append("tensorboard")
    if "trackio" in trackers:
        import trackio

        trl = cfg.get("trl") or {}
        try:
            trackio.init(
                project=trl.get("project", "huggingface"), name=trl.get("run_name", run_dir.name), resume="must"
            )
        except ValueError as err:  # the run is not in the local store (another machine, or removed)
            print(
                f"trlrecipes: note: trackio has no run {run_dir.name!r} to add the evaluation to ({err})",
                file=sys.stderr,
            )
        else:
            trackio.log({**numbers, "train/global_step": step})
            trackio.finish()
            written.append("trackio")
    return written
