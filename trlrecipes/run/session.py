"""The run a recipe's `main(cfg, run)` receives: its folder, data loading with a printed summary, the callbacks,
TRL plumbing settings, and `run.train(trainer)` which handles resume, interrupts and non-finite losses.

Recipes call TRL and PEFT themselves; this module only carries what every recipe would otherwise repeat.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from trlrecipes.run import folder as run_folder
from trlrecipes._compat import narrow_head_chunks_on_cpu
from trlrecipes.errors import RunStopped, UserError
from trlrecipes.run.control import EXIT_CODES, run_control
from trlrecipes.hardware import is_main_process



def _say(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


@dataclass
class Run:
    dir: Path
    recipe_path: Path
    resume_command: str
    resume_from: Path | None = None
    data_summaries: dict[str, Any] = field(default_factory=dict)
    # Writes that turn the folder into a run (overwrite, config, recipe copy, run.json, resume trimming). They are
    # deferred to `begin()`, just before training, so a start that fails (bad data, a model that does not load,
    # Ctrl-C while loading) leaves an existing run folder untouched and creates no half-made one.
    setup: Callable[[bool], None] | None = None
    started: bool = False
    _health: Any = None
    _stopper: Any = None

    def begin(self, *, before_training: bool = True) -> None:
        """Make the folder a run: called by `train()` right before training (idempotent). `before_training=False`
        (a recipe that trained on its own) records the run without emptying or trimming anything."""
        if self.started:
            return
        self.started = True
        if self.setup is not None:
            self.setup(before_training)
        if is_main_process():
            self.dir.mkdir(parents=True, exist_ok=True)
            self._write_data_summary()

    def _write_data_summary(self) -> None:
        if self.data_summaries:
            (self.dir / "data_summary.json").write_text(json.dumps(self.data_summaries, indent=2) + "\n")

    # --- data -------------------------------------------------------------------------------------------------
    def load_pairs(self, name: str, data_format: str, source: str, *, split: str = "train", subset: str | None = None,
                   max_rows: int = 0, options: dict | None = None):
        """Convert one dataset, print its summary (rows read / converted / skipped by reason) and keep it."""
        from trlrecipes.data import explanations, get_format, load_pairs

        dataset, summary = load_pairs(data_format, source, split=split, subset=subset or None, options=options)
        text = summary.format(explanations(get_format(data_format)))
        _say(f"[{name}] {source}" + (f" ({subset}, {split})" if subset else "") + "\n" + text)
        from trlrecipes.data.common import content_sha256

        digest = content_sha256(dataset)  # of all converted rows, before any row cap
        if max_rows and len(dataset) > max_rows:
            dataset = dataset.select(range(max_rows))
            _say(f"[{name}] using the first {max_rows} converted rows (max rows setting)")
        self.data_summaries[name] = {"source": source, "subset": subset, "split": split, "used": len(dataset),
                                     **summary.to_dict(), "sha256": digest}
        if self.started and is_main_process():
            self._write_data_summary()
        return dataset

    def sample(self, name: str, pairs, max_rows: int, *, seed: int):
        """A seeded random `max_rows` of `pairs` (all of them when 0), recorded as `used` in the data summary. For
        sources sorted in some way (by topic, date or score) where the first rows would not be representative."""
        if not max_rows or len(pairs) <= max_rows:
            return pairs
        pairs = pairs.shuffle(seed=seed).select(range(max_rows))
        self.data_summaries[name].update(used=max_rows, sampled_with_seed=seed)
        _say(f"[{name}] using a random {max_rows} of the converted rows (seed {seed}; max rows setting)")
        return pairs

    def hold_out(self, pairs, share: float, *, seed: int, max_train_rows: int = 0, max_eval_rows: int = 0):
        """(train, eval): `share` of the converted training pairs split off for evaluation (seeded), for sources
        without an eval split. The split comes before the row caps, so held-out pairs are never trained on whatever
        max_train_rows is. Recorded in the data summary (data_summary.json)."""
        import math

        train_summary = self.data_summaries["train"]
        held = math.ceil(share * len(pairs)) if share > 0 else 0
        if held and len(pairs) - held < 1:
            raise UserError(f"{train_summary['source']}: {len(pairs)} converted pair(s) are too few to hold out "
                            f"eval_share={share}; pass eval_dataset=path/to/eval.jsonl or eval_share=0")
        train, evaluation = pairs, None
        if held:
            parts = pairs.train_test_split(test_size=held, seed=seed)
            train, evaluation = parts["train"], parts["test"]
            if max_eval_rows and len(evaluation) > max_eval_rows:
                evaluation = evaluation.select(range(max_eval_rows))
        if max_train_rows and len(train) > max_train_rows:
            train = train.select(range(max_train_rows))
        train_summary.update(used=len(train), held_out_for_eval=held)
        if evaluation is not None:
            self.data_summaries["eval"] = {"source": train_summary["source"], "subset": train_summary["subset"],
                                           "split": f"held out from {train_summary['split']}", "eval_share": share,
                                           "seed": seed, "held_out": held, "used": len(evaluation)}
        _say(f"[eval] held out {held} of {len(pairs)} converted pairs (eval_share {share}, seed {seed}); training on "
             f"{len(train)}, evaluating on {len(evaluation) if evaluation is not None else 0}")
        return train, evaluation

    # --- trainer plumbing ---------------------------------------------------------------------------------------
    def callbacks(self, *, verdicts: bool = True, zero_margin_loss: float | None = None) -> list:
        """The health callback (metrics.jsonl, live line, verdicts) and the interrupt/checkpoint control.

        `zero_margin_loss` is the loss at zero reward margin, which the "no learning" verdict compares against:
        ln 2 for DPO's sigmoid loss (the default), (1/(2*beta))**2 for IPO, None where there is no such value."""
        from trlrecipes.monitor.health import LN2, TrainingHealthCallback

        self._health = TrainingHealthCallback(self.dir, verdicts=verdicts,
                                              zero_margin_loss=LN2 if zero_margin_loss is None else zero_margin_loss)
        self._stopper = run_control()
        return [self._health, self._stopper]

    def trl_settings(self, precision, *, logging_steps: int, save_steps: int, eval_steps: int, has_eval: bool,
                     report_to: str = "none", save_total_limit: int = 2) -> dict:
        """TrainingArguments every recipe sets the same way: folder, precision, logging, checkpoints, evaluation."""
        from trlrecipes.run.preflight import check_save_interval

        check_save_interval(save_steps, logging_steps)  # also for copied recipes whose fields preflight can't see
        from trlrecipes.console import show_bars_for

        show_bars_for(self.data_summaries.get("train", {}).get("used", 0))  # TRL tokenizes a large set: show it
        # eval_steps=0: no evaluation during training (transformers would otherwise also evaluate after the last step)
        evaluate = has_eval and eval_steps > 0
        return {
            "output_dir": str(self.dir),
            **precision.trl_kwargs,
            "logging_steps": logging_steps,
            "save_strategy": "steps",
            "save_steps": save_steps,
            "save_total_limit": save_total_limit,
            "eval_strategy": "steps" if evaluate else "no",
            "eval_steps": eval_steps if evaluate else None,
            "report_to": [] if report_to in ("", "none") else report_to.split(","),
            "run_name": self.dir.name,  # the trackers' run is named like the folder (trackio would pick a random name)
            "disable_tqdm": True,  # the health callback prints one compact line per log event instead
            "dataset_num_proc": self.tokenizer_processes(),
        }

    def tokenizer_processes(self) -> int | None:
        """Processes for TRL's tokenization: one per core (up to 8) for a large training set (2 processes made the
        first run on 43,835 hh-rlhf pairs 0.69x as long on 2 cores), else None: starting workers costs more than
        it saves on a small set."""
        from trlrecipes.data.common import parallel_processes

        return parallel_processes(self.data_summaries.get("train", {}).get("used", 0), most=8)

    # --- training -------------------------------------------------------------------------------------------
    def train(self, trainer, *, group_by_length: bool = True) -> None:
        """Train (resuming when asked), then save the adapter and tokenizer into the run folder.

        `group_by_length`: micro-batches of pairs of similar length, the groups in random order (trlrecipes.data.batching)
        instead of the Trainer's random batches: far less padding for the same randomness between steps.

        Ctrl-C / SIGTERM: stop after the current step, checkpoint, save, print the resume command, exit 130/143.
        Non-finite loss: stop, keep the last good checkpoint (the NaN step is not saved), exit 1 with the reason.
        """
        if self._stopper is None:
            raise RuntimeError("pass callbacks=run.callbacks() to the trainer before run.train(trainer)")
        # Installed before the folder is written and kept until the adapter is saved: a signal at any point from
        # here on finishes what is being written instead of cutting it short.
        self._stopper.install()
        try:
            self.begin()
            accelerator = getattr(trainer, "accelerator", None)
            if accelerator is not None:
                accelerator.wait_for_everyone()  # rank 0 may have emptied the folder (--overwrite)
            if self.resume_from is not None:
                _say(f"resuming from {self.resume_from}")
            from trlrecipes.console import hide_bars

            hide_bars()  # after TRL's tokenization (see trl_settings); the live line shows training
            _quiet_printer(trainer)
            self._health.trackers = tracker_callbacks(trainer)
            _check_trainable_rows(trainer, self.data_summaries)
            if group_by_length:
                _group_by_length(trainer)
            narrow_head_chunks_on_cpu(trainer)
            try:
                trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
            except BaseException:
                self._set_status("failed", trainer.state.global_step)
                raise
            self._finish(trainer)
        finally:
            self._stopper.uninstall()

    def _finish(self, trainer) -> None:
        step = trainer.state.global_step
        if self._health is not None and getattr(self._health, "stopped_on_non_finite", False):
            good = run_folder.newest_valid_checkpoint(self.dir)
            kept = f"the last good checkpoint is {good}" if good else "no checkpoint was saved before it"
            self._set_status("diverged", step)
            raise RunStopped(f"training stopped at step {step}: the loss became NaN/inf; {kept}. Lower learning_rate "
                             f"(or raise beta) and start again", exit_code=1)
        trainer.save_model(str(self.dir))
        signum = self._stopper.signum
        finished = bool(trainer.state.max_steps) and step >= trainer.state.max_steps
        if signum is not None and not finished:
            self._set_status("interrupted", step)
            self._write_card()
            name = signal.Signals(signum).name
            raise RunStopped(f"{name}: stopped after step {step}; checkpoint, adapter and metrics are saved in "
                             f"{self.dir}.\nresume with: {self.resume_command}", exit_code=EXIT_CODES[signum])
        self._set_status("completed", step)
        self._write_card()
        _say(f"adapter and tokenizer saved in {self.dir}")

    def _write_card(self) -> None:
        """README.md from the run's own files, replacing the card TRL's save_model wrote."""
        if is_main_process():
            from trlrecipes.tools.card import write_card

            write_card(self.dir)

    def _set_status(self, status: str, step: int) -> None:
        if not is_main_process() or not self.started:
            return
        path = self.dir / run_folder.RUN_INFO
        try:
            info = json.loads(path.read_text()) if path.is_file() else {}
        except ValueError:
            info = {}
        info.update(status=status, global_step=step)
        path.write_text(json.dumps(info, indent=2) + "\n")


def tracker_callbacks(trainer) -> list:
    """The trainer's reporting callbacks: those transformers adds for report_to (transformers.integrations)."""
    return [callback for callback in trainer.callback_handler.callbacks
            if type(callback).__module__.startswith("transformers.integrations")]


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
    dataset = getattr(trainer, "train_dataset", None)
    converted = summaries.get("train", {}).get("used")
    if dataset is None or not hasattr(dataset, "__len__") or converted is None:
        return
    kept = len(dataset)
    if kept == 0:
        raise UserError(f"all {converted} training pairs have a prompt that fills max_length={trainer.args.max_length}"
                        f" (TRL drops them); raise max_length (see `trlrecipes data inspect`)")
    if kept < converted:
        _say(f"[train] TRL dropped {converted - kept} of {converted} pairs whose prompt alone fills max_length="
             f"{trainer.args.max_length} (see `trlrecipes data inspect`)")


def trl_args(config_cls, settings: dict):
    """Build a TRL config; its own validation errors are the user's settings, so they become one-line UserErrors.

    A `hub_token` is moved into the HF_TOKEN environment variable of this process (where huggingface_hub reads it
    for a push) instead of the config: transformers pickles the whole config into every checkpoint's
    training_args.bin, and a token must never be written to the run folder.
    """
    settings = dict(settings)
    token = settings.pop("hub_token", None)
    if token:
        os.environ["HF_TOKEN"] = str(token)
    try:
        return config_cls(**settings)
    except (ValueError, TypeError) as err:
        raise UserError(f"{config_cls.__name__} rejected the settings: {err}".splitlines()[0])
