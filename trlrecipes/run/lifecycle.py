"""The `Run` a program's `main(cfg, run)` receives, and its one job: the run's lifecycle in its folder.

begin     make the folder a run, right before training: empty it for --overwrite (the old run is kept aside until
          the first step), trim a resumed run to its checkpoint, write config.yaml, the program (and preset) copies,
          run.json and data_summary.json. Deferred until then so that a start that fails (bad data, a model that
          does not load, Ctrl-C while loading) leaves an existing folder untouched and makes no half-made one.
train     train (resuming when asked), then save the adapter, the tokenizer and the model card; Ctrl-C / SIGTERM
          stop after the step, checkpoint and print the resume command; a non-finite loss stops at the last good
          checkpoint.
end       how it ended, in run.json (`RunRecord.set_status`, the one writer of the status).

What a program asks of the run lives beside it, one job a module: `splits.py` (the data), `trl_args.py` (the TRL
config), `model_setup.py` (model path, tokenizer, LoRA and 4-bit settings), `monitor/` (health callback). `Run`
only forwards those calls, so a program reads `run.load_data(cfg)`, `run.trl_args(...)` and so on.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trlrecipes import files
from trlrecipes._compat import lean_head_folds_on_cpu, narrow_head_chunks_on_cpu, score_reply_positions_on_cpu
from trlrecipes.errors import RunStopped
from trlrecipes.hardware import is_main_process
from trlrecipes.run import folder as run_folder
from trlrecipes.run import model_setup, refcache, trl_args
from trlrecipes.run.control import EXIT_CODES, run_control
from trlrecipes.run.record import RunRecord
from trlrecipes.run.splits import Splits, check_same_data


def _say(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


@dataclass
class StartPlan:
    """What `begin` writes, decided (and checked) before anything loads."""

    config: dict  # the resolved settings as saved (config.yaml)
    info: dict  # run.json at the start
    program_path: Path
    preset_path: Path | None = None
    overwrite: bool = False
    resume: bool = False


@dataclass
class Run:
    dir: Path
    plan: StartPlan | None = None
    resume_command: str = ""
    resume_from: Path | None = None
    lock: Any = None  # the run folder's FolderLock (main process only), released when the run ends
    parent: Run | None = None  # set for a round of a program that trains in rounds (see `round`)
    started: bool = False
    data: Splits = field(init=False)
    _health: Any = None
    _stopper: Any = None
    _trainer: Any = None
    _trl_config: dict | None = None  # the TRL config as built (trl_config.json), written when the run begins

    def __post_init__(self):
        self.dir = Path(self.dir)
        self.record = RunRecord(self.dir)
        self.data = Splits(self.record, resuming=self.resume_from is not None)
        self.data.on_change = self._data_changed

    # --- what a program asks for ---------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        """Print a line once (on the main process only under a multi-process launch)."""
        _say(message)

    def load_data(self, cfg):
        """(train, eval) preference pairs as the settings name them (see run/splits.py)."""
        return self.data.load(cfg)

    @property
    def data_summaries(self) -> dict:
        return self.data.summaries

    def load_prompts(self, cfg):
        """Training prompts for a program that samples its own replies (see run/splits.py)."""
        return self.data.load_prompts(cfg)

    def round_prompts(self, prompts, number: int, size: int, path: Path, *, seed: int) -> Path:
        """Round `number`'s share of the prompts as a prompts file (see run/splits.py)."""
        return Splits.round_prompts(prompts, number, size, path, seed=seed)

    def model_path(self, cfg) -> str:
        return model_setup.model_path(cfg)

    def tokenizer(self, cfg):
        return model_setup.tokenizer(cfg)

    def lora_config(self, cfg, task_type: str = "CAUSAL_LM", **extra):
        return model_setup.lora_config(cfg, task_type, **extra)

    def quantization_config(self, cfg):
        return model_setup.quantization_config(cfg)

    def continue_adapter(self, trainer, folder) -> None:
        """Start the trainer's adapter from the one saved in `folder` (a previous round's)."""
        model_setup.continue_adapter(trainer, folder)

    def trl_args(self, config_cls, cfg, *, has_eval: bool, quantize_on_load: bool = False, **by_hand):
        """The TRL config for this run (see run/trl_args.py); `by_hand`: fields the program computes itself."""
        args = trl_args.build(
            config_cls,
            cfg,
            folder=self.dir,
            train_rows=self.data.train_rows,
            has_eval=has_eval,
            quantization=model_setup.quantization_config(cfg) if quantize_on_load else None,
            quantize_on_load=quantize_on_load,
            **by_hand,
        )
        self._trl_config = trl_args.resolved(args)
        return args

    def callbacks(self, cfg=None, *, verdicts: bool | None = None) -> list:
        """The health callback (metrics.jsonl, live line, verdicts) and the interrupt/checkpoint control."""
        from trlrecipes.monitor.health import TrainingHealthCallback

        if verdicts is None:
            verdicts = getattr(cfg, "verdicts", True)
        self._health = TrainingHealthCallback(self.dir, verdicts=verdicts)
        self._stopper = run_control()
        return [self._health, self._stopper, _drop_replaced_callback(self.dir)]

    # --- lifecycle -----------------------------------------------------------------------------------------------
    def begin(self, *, before_training: bool = True) -> None:
        """Make the folder a run (idempotent). `before_training=False` (a program that trained on its own) records
        the run without emptying or trimming anything."""
        if self.started:
            return
        if before_training and self.resume_from is not None:
            check_same_data(self.record, self.data.fingerprints)
        self.started = True
        if not is_main_process():
            return
        plan = self.plan
        if plan is not None and before_training:
            run_folder.prepare(self.dir, overwrite=plan.overwrite, resume=plan.resume)
        self.dir.mkdir(parents=True, exist_ok=True)
        if plan is not None:
            info = dict(plan.info)
            if plan.resume and before_training:
                info.update(self._trim_for_resume())
            self.record.write_config(plan.config)
            self.record.copy_sources(plan.program_path, plan.preset_path)
            self.record.write_info(info)
        elif self.parent is not None:  # a round: a run of its own inside the run's folder, with the run's settings
            if self.resume_from is not None:
                self._trim_for_resume()
            self.record.write_config(self.parent.record.config())
            parent = self.parent.record.info()
            self.record.update_info(
                status="running",
                round=self.dir.name,
                **{key: parent.get(key) for key in ("recipe", "method", "description", "versions", "command")},
            )
        self._data_changed()
        if self._trl_config:
            self.record.write_trl_config(self._trl_config)

    def _trim_for_resume(self) -> dict:
        """Drop what a resumed run trained after its checkpoint; returns the run.json fields of the resume."""
        step = run_folder.checkpoint_step(self.resume_from) if self.resume_from else 0
        for path in run_folder.remove_checkpoints_after(self.dir, step):
            _say(f"--resume: removed {path}: incomplete or damaged, so it cannot be resumed from")
        run_folder.trim_metrics(self.dir, step)
        if self.resume_from is None and not any(self.dir.glob("round-*")):
            _say(f"--resume: no complete checkpoint in {self.dir}; training starts from step 0 in that folder")
        previous = self.record.info()
        return {
            "first_started": previous.get("first_started") or previous.get("started"),
            "resumed_from": str(self.resume_from) if self.resume_from else None,
        }

    def _data_changed(self) -> None:
        if self.started and is_main_process() and self.data.summaries:
            self.record.write_data_summary(self.data.summaries)
            if self.data.fingerprints:
                self.record.update_info(data_fingerprints=self.data.fingerprints)

    @property
    def step(self) -> int | None:
        state = getattr(self._trainer, "state", None)
        return getattr(state, "global_step", None)

    # --- rounds --------------------------------------------------------------------------------------------------
    def round(self, number: int) -> Run:
        """Round `number` of a program that trains in rounds (iterative DPO): a run of its own in `round-N/` (its
        data, checkpoints, metrics and adapter), under this run's lock and resume command. A round that completed
        is `done`; one that stopped resumes from its newest complete checkpoint."""
        folder = self.dir / f"round-{number}"
        if self.started and is_main_process():
            folder.mkdir(exist_ok=True)  # for what the round writes before it trains (its prompts, its pairs)
        child = Run(dir=folder, resume_command=self.resume_command, parent=self)
        if child.record.status != "completed" and folder.is_dir():
            child.resume_from = run_folder.newest_valid_checkpoint(folder)
            child.data.resuming = child.resume_from is not None
        return child

    @property
    def done(self) -> bool:
        """A round (or run) that completed and holds its adapter."""
        return self.record.status == "completed" and (self.dir / "adapter_config.json").is_file()

    def round_summary(self, pairs_file: Path) -> dict:
        """A finished round in numbers (recorded in its run.json and the run's): prompts sampled, pairs kept, and
        the mean judge score of every sampled reply, i.e. how well the policy did on the round's prompts before
        training on them (the on-policy curve)."""
        from trlrecipes.run.record import read_jsonl

        kept = read_jsonl(pairs_file)
        dropped = read_jsonl(pairs_file.with_name(pairs_file.name + ".dropped.jsonl"))
        scores = [float(x) for row in kept + dropped for x in row.get("scores") or []]
        summary = {
            "round": self.dir.name,
            "prompts": len(kept) + len(dropped),
            "pairs": len(kept),
            "sampled_mean_score": sum(scores) / len(scores) if scores else None,
            "steps": self.record.info().get("global_step"),
        }
        if is_main_process():
            self.record.update_info(summary=summary)
        return summary

    def finish_rounds(self, rounds: list[Run], summary: list[dict]) -> None:
        """After the last round: its adapter and tokenizer become the run's, run.json records every round."""
        if not is_main_process():
            return
        from trlrecipes.monitor.plot import plot_metrics
        from trlrecipes.run.record import METRICS, PLOT, VERDICTS

        run_folder.copy_final_files(rounds[-1].dir, self.dir)
        # the rounds' logs one after another (steps counted on across rounds, each log naming its round), so that
        # report, compare and plot read a rounds run like any other
        logs, verdicts, offset = [], [], 0
        for number, rnd in enumerate(rounds, start=1):
            logs += [
                {**log, "step": (log.get("step") or 0) + offset, "round": number} for log in rnd.record.rows(METRICS)
            ]
            verdicts += [{**v, "step": (v.get("step") or 0) + offset, "round": number} for v in rnd.record.verdicts()]
            offset += rnd.record.info().get("global_step") or 0
        self.record.write_rows(METRICS, logs)
        files.write_json(self.record.path(VERDICTS), verdicts)
        if logs:
            plot_metrics(self.record.path(METRICS), self.record.path(PLOT))
        self.record.update_info(rounds=summary, global_step=offset)
        self.write_card()

    def train(self, trainer, *, group_by_length: bool = True) -> None:
        """Train (resuming when asked), then save the adapter and tokenizer into the run folder.

        `group_by_length`: micro-batches of pairs of similar length, the groups in random order (data/batching.py)
        instead of the Trainer's random batches: far less padding for the same randomness between steps.
        """
        if self._stopper is None:
            raise RuntimeError("pass callbacks=run.callbacks() to the trainer before run.train(trainer)")
        self._trainer = trainer
        # Installed before the folder is written and kept until the adapter is saved: a signal at any point from
        # here on finishes what is being written instead of cutting it short.
        self._stopper.install()
        try:
            self.begin()
            try:
                self._train(trainer, group_by_length)
            except RunStopped:
                raise  # the status is set (diverged, interrupted)
            except BaseException:
                if trainer.state.global_step == 0 and is_main_process() and run_folder.restore_replaced(self.dir):
                    _say(f"the run this one was to replace is back in {self.dir}, unchanged (no step was trained)")
                    self.started = False  # nothing of this run is left to record
                raise
        finally:
            self._stopper.uninstall()

    def _train(self, trainer, group_by_length: bool) -> None:
        accelerator = getattr(trainer, "accelerator", None)
        if accelerator is not None:
            accelerator.wait_for_everyone()  # rank 0 may have emptied the folder (--overwrite)
        self._record_engine(trainer)
        if self.resume_from is not None:
            _say(f"resuming from {self.resume_from}")
        from trlrecipes.console import hide_bars

        hide_bars()  # after TRL's tokenization (see trl_args.run_settings); the live line shows training
        _quiet_printer(trainer)
        self._health.trackers = tracker_callbacks(trainer)
        _check_trainable_rows(trainer, self.data.summaries)
        if group_by_length:
            _group_by_length(trainer)
        narrow_head_chunks_on_cpu(trainer)
        score_reply_positions_on_cpu(trainer)
        lean_head_folds_on_cpu(trainer)
        refcache.prepare(trainer)  # reference log-probs from the cache / one pass, or live (prints which)
        trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
        self._finish(trainer)

    def _finish(self, trainer) -> None:
        step = trainer.state.global_step
        if self._health is not None and getattr(self._health, "stopped_on_non_finite", False):
            good = run_folder.newest_valid_checkpoint(self.dir)
            kept = f"the last good checkpoint is {good}" if good else "no checkpoint was saved before it"
            self.set_status("diverged", step)
            raise RunStopped(
                f"training stopped at step {step}: the loss became NaN/inf; {kept}. {nan_advice(trainer.args)}",
                exit_code=1,
                status="diverged",
            )
        trainer.save_model(str(self.dir))
        signum = self._stopper.signum
        finished = bool(trainer.state.max_steps) and step >= trainer.state.max_steps
        if signum is not None and not finished:
            self.set_status("interrupted", step)
            self.write_card()
            name = signal.Signals(signum).name
            raise RunStopped(
                f"{name}: stopped after step {step}; checkpoint, adapter and metrics are saved in "
                f"{self.dir}.\nresume with: {self.resume_command}",
                exit_code=EXIT_CODES[signum],
                status="interrupted",
            )
        if is_main_process():
            run_folder.drop_replaced(self.dir)  # e.g. max_steps=0 of a resumed run: no step ended to drop it
        self.set_status("completed", step)
        self.write_card()
        _say(f"adapter and tokenizer saved in {self.dir}")

    def end(self, error: BaseException | None) -> None:
        """Record how the run ended, once, whatever ended it: a program that returned (completed, unless its
        training already recorded an end), or an error raised in training or around it (failed / interrupted)."""
        if not (self.started and is_main_process()) or self.record.status not in ("running", None):
            return
        if error is None:
            self.set_status("completed", self.step)
            return
        if isinstance(error, RunStopped) and error.status:
            self.set_status(error.status, self.step)
            return
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        self.set_status(status, self.step, reason=reason)

    def set_status(self, status: str, step: int | None = None, reason: str | None = None) -> None:
        """Best effort: a full disk must not hide the original error."""
        if not is_main_process() or not self.started:
            return
        try:
            self.record.set_status(status, step, reason)
        except OSError as err:
            _say(f"could not record status {status!r} in {self.record.path('run.json')}: {err}")

    def write_card(self) -> None:
        """README.md from the run's own files, replacing the card TRL's save_model wrote (a round's too: TRL's
        would name the base model "None")."""
        if is_main_process():
            from trlrecipes.run.card import write_card

            write_card(self.dir)

    def _record_engine(self, trainer) -> None:
        """Write which engine trains (DDP, FSDP, DeepSpeed) and how many processes into run.json, and say so when it
        is not the one asked for: accelerate applies FSDP only on GPUs, so a launch with the FSDP config (or
        trl.fsdp=...) on CPU trains as plain DDP instead (measured with accelerate 1.15; docs/scaling.md)."""
        state = getattr(getattr(trainer, "accelerator", None), "state", None)
        engine = getattr(getattr(state, "distributed_type", None), "name", None)
        if engine is None or not is_main_process():
            return
        asked = (
            "FSDP"
            if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true" or trainer.args.fsdp
            else "DEEPSPEED"
            if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
            else None
        )
        if asked and asked != engine:
            why = " (accelerate applies FSDP on GPUs only)" if asked == "FSDP" else ""
            _say(
                f"note: {asked} was asked for, but accelerate runs these {state.num_processes} process(es) as "
                f"{engine}{why}: every process holds the whole model, so no memory is saved; the training is the "
                f"same"
            )
        distributed = {"engine": engine, "processes": state.num_processes, "asked": asked or engine}
        self.record.update_info(distributed=distributed)


def _drop_replaced_callback(folder: Path):
    """Deletes the run an --overwrite moved aside once the new run has finished its first optimizer step."""
    from transformers import TrainerCallback

    class DropReplaced(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero and (folder / run_folder.REPLACED).exists():
                run_folder.drop_replaced(folder)

    return DropReplaced()


def tracker_callbacks(trainer) -> list:
    """The trainer's reporting callbacks: those transformers adds for report_to (transformers.integrations)."""
    return [
        callback
        for callback in trainer.callback_handler.callbacks
        if type(callback).__module__.startswith("transformers.integrations")
    ]


# DPO-family betas in the papers and TRL's examples lie between 0.01 and 0.5; far above that the log-ratio logits
# saturate and a NaN comes from beta, not from the step size. SimPO's beta scales a mean log-prob (2.5 is usual).
LARGE_BETA = 1.0


def nan_advice(args) -> str:
    """The knob to turn after a non-finite loss: beta when it is far above the usual range of a reference-based
    loss, else the learning rate (the usual cause), with a value to try."""
    beta, lr = getattr(args, "beta", None), getattr(args, "learning_rate", None)
    reference_based = getattr(args, "loss_type", None) not in ("simpo",) and hasattr(args, "precompute_ref_log_probs")
    if reference_based and isinstance(beta, (int, float)) and beta > LARGE_BETA:
        return (
            f"beta={beta:g} is far above the usual 0.01-0.5: lower beta (e.g. beta=0.1) and start again with "
            f"--overwrite"
        )
    suggestion = f" (e.g. learning_rate={lr / 10:.0e})" if isinstance(lr, (int, float)) and lr > 0 else ""
    return f"Lower learning_rate{suggestion} and start again with --overwrite"


def _group_by_length(trainer) -> None:
    from trlrecipes.data.batching import use_length_groups

    if not use_length_groups(trainer):
        _say("group_by_length: the training data has no tokenized columns this knows; batches are drawn at random")


def _quiet_printer(trainer) -> None:
    """With tqdm off, transformers prints every raw log dict; the health callback's live line replaces it."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def _check_trainable_rows(trainer, summaries: dict) -> None:
    """TRL silently drops pairs whose prompt alone fills max_length; say how many, and stop if none are left."""
    from trlrecipes.errors import UserError

    dataset = getattr(trainer, "train_dataset", None)
    converted = summaries.get("train", {}).get("used")
    if dataset is None or not hasattr(dataset, "__len__") or converted is None:
        return
    if not hasattr(trainer.args, "max_length"):  # GRPO/RLOO: no pairs; the program leaves out long prompts itself
        return
    kept = len(dataset)
    # TRL's RewardTrainer drops a pair when either whole sequence is longer than max_length, instead of truncating
    why = "a reply sequence longer than" if type(trainer).__name__ == "RewardTrainer" else "a prompt that alone fills"
    if kept == 0:
        raise UserError(
            f"all {converted} training pairs have {why} max_length={trainer.args.max_length} (TRL drops "
            f"them); raise max_length (see `trlrecipes data inspect`)"
        )
    if kept < converted:
        _say(
            f"[train] TRL dropped {converted - kept} of {converted} pairs with {why} max_length="
            f"{trainer.args.max_length} (see `trlrecipes data inspect`)"
        )
