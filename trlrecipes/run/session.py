"""The `Run` a program's `main(cfg, run)` receives: what it needs to train. Data loading with a printed summary,
the model path and tokenizer, the TRL config built from the program's Config, the callbacks, and
`run.train(trainer)`, which handles resume, interrupts and non-finite losses.

Programs call TRL and PEFT themselves; this module only carries what every program would otherwise repeat. The run
folder and its checkpoints are `run.folder`'s; the writes that make a folder a run are `launch`'s (`setup`).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trlrecipes._compat import lean_head_folds_on_cpu, narrow_head_chunks_on_cpu, score_reply_positions_on_cpu
from trlrecipes.errors import RunStopped, UserError
from trlrecipes.hardware import is_main_process
from trlrecipes.run import folder as run_folder
from trlrecipes.run import refcache
from trlrecipes.run.control import EXIT_CODES, run_control

# Config fields the run maps itself (they mean something else to TRL, or need the run's folder or rules).
RUN_OWNED = {"output_dir", "report_to", "logging_steps", "save_steps", "eval_steps", "max_steps", "trl"}


def _say(message: str) -> None:
    if is_main_process():
        print(message, flush=True)


@dataclass
class Run:
    dir: Path
    program_path: Path | None = None
    resume_command: str = ""
    resume_from: Path | None = None
    data_summaries: dict[str, Any] = field(default_factory=dict)
    # {split: {"rows": n, "sha256": ...}} of the converted rows each split trains or evaluates on (run.json); a
    # resume of a run whose data changed is refused
    data_fingerprints: dict[str, dict] = field(default_factory=dict)
    # Writes that turn the folder into a run (overwrite, config, recipe copy, run.json, resume trimming). They are
    # deferred to `begin()`, just before training, so a start that fails (bad data, a model that does not load,
    # Ctrl-C while loading) leaves an existing run folder untouched and creates no half-made one.
    setup: Callable[[bool], None] | None = None
    started: bool = False
    lock: Any = None  # the run folder's FolderLock (main process only), released when the run ends
    _health: Any = None
    _stopper: Any = None

    def begin(self, *, before_training: bool = True) -> None:
        """Make the folder a run: called by `train()` right before training (idempotent). `before_training=False`
        (a recipe that trained on its own) records the run without emptying or trimming anything."""
        if self.started:
            return
        if before_training and self.resume_from is not None:
            check_same_data(self.dir, self.data_fingerprints)
        self.started = True
        if self.setup is not None:
            self.setup(before_training)
        if is_main_process():
            self.dir.mkdir(parents=True, exist_ok=True)
            self._write_data_summary()
            if self.data_fingerprints:
                run_folder.update_info(self.dir, data_fingerprints=self.data_fingerprints)

    def _write_data_summary(self) -> None:
        if self.data_summaries:
            (self.dir / "data_summary.json").write_text(json.dumps(self.data_summaries, indent=2) + "\n")

    def say(self, message: str) -> None:
        """Print a line once (on the main process only under a multi-process launch)."""
        _say(message)

    # --- data -------------------------------------------------------------------------------------------------
    def load_data(self, cfg):
        """(train, eval) pairs as the settings name them: `eval_dataset` when set; else the format's held-out split
        of the same Hub dataset, or test*.jsonl beside a local train*.jsonl; for a format that has no held-out
        split (EVAL_SPLIT None: orca-dpo, custom), `eval_share` of the converted pairs held out with the seed
        (before the row caps, so held-out pairs are never trained on); else eval is None. Row caps take the first
        rows, or a seeded sample for formats whose rows are grouped (SAMPLE_CAPS)."""
        from trlrecipes.data import get_format
        from trlrecipes.data.common import default_eval_source, is_local_source

        if not cfg.dataset:
            raise UserError(
                f"no training data: set dataset=path/to/file.jsonl (or .json, .csv, .parquet), or a Hub id "
                f"(data_format={cfg.data_format})"
            )
        fmt = get_format(cfg.data_format)
        if getattr(fmt, "NOTICE", None):
            _say(fmt.NOTICE)
        sample = getattr(fmt, "SAMPLE_CAPS", False)
        common = {"subset": cfg.subset, "options": cfg.data_options}
        has_eval_split = bool(getattr(fmt, "EVAL_SPLIT", None))
        if cfg.eval_dataset:
            eval_source = cfg.eval_dataset
        elif not has_eval_split:
            eval_source = ""
        else:
            eval_source = default_eval_source(cfg.dataset) if is_local_source(cfg.dataset) else cfg.dataset
        if not eval_source and not has_eval_split:
            pairs = self.load_pairs("train", cfg.data_format, cfg.dataset, split=cfg.split, **common)
            return self.hold_out(
                pairs,
                cfg.eval_share,
                seed=cfg.seed,
                max_train_rows=cfg.max_train_rows,
                max_eval_rows=cfg.max_eval_rows,
            )
        loaded = [None, None]
        sources = [
            ("train", cfg.dataset, cfg.split, cfg.max_train_rows),
            ("eval", eval_source, cfg.eval_split, cfg.max_eval_rows),
        ]
        for index, (name, source, split, cap) in enumerate(sources):
            if not source:
                continue
            pairs = self.load_pairs(
                name, cfg.data_format, source, split=split, max_rows=0 if sample else cap, **common
            )
            loaded[index] = self.sample(name, pairs, cap, seed=cfg.seed) if sample else pairs
        return tuple(loaded)

    def load_pairs(
        self,
        name: str,
        data_format: str,
        source: str,
        *,
        split: str = "train",
        subset: str | None = None,
        max_rows: int = 0,
        options: dict | None = None,
    ):
        """Convert one dataset, print its summary (rows read / converted / skipped by reason) and keep it."""
        from trlrecipes.data import explanations, get_format, load_pairs

        dataset, summary = load_pairs(data_format, source, split=split, subset=subset or None, options=options)
        text = summary.format(explanations(get_format(data_format)))
        _say(f"[{name}] {source}" + (f" ({subset}, {split})" if subset else "") + "\n" + text)
        digest = fingerprint(dataset)  # row count and content hash of all converted rows, before any row cap
        if max_rows and len(dataset) > max_rows:
            dataset = dataset.select(range(max_rows))
            _say(f"[{name}] using the first {max_rows} converted rows (max rows setting)")
        self.data_summaries[name] = {
            "source": source,
            "subset": subset,
            "split": split,
            "used": len(dataset),
            **summary.to_dict(),
            "sha256": digest["sha256"],
        }
        self.data_fingerprints[name] = digest
        if self.resume_from is not None:  # refuse now, before the model loads (begin() checks every split again)
            check_same_data(self.dir, self.data_fingerprints, splits=[name])
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
            raise UserError(
                f"{train_summary['source']}: {len(pairs)} converted pair(s) are too few to hold out "
                f"eval_share={share}; pass eval_dataset=path/to/eval.jsonl or eval_share=0"
            )
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
            self.data_summaries["eval"] = {
                "source": train_summary["source"],
                "subset": train_summary["subset"],
                "split": f"held out from {train_summary['split']}",
                "eval_share": share,
                "seed": seed,
                "held_out": held,
                "used": len(evaluation),
            }
        _say(
            f"[eval] held out {held} of {len(pairs)} converted pairs (eval_share {share}, seed {seed}); training on "
            f"{len(train)}, evaluating on {len(evaluation) if evaluation is not None else 0}"
        )
        return train, evaluation

    # --- model ------------------------------------------------------------------------------------------------
    def model_path(self, cfg) -> str:
        """What the trainer loads: a Hub id or folder as given, or the folder an offline alias converts to."""
        from trlrecipes.models import resolve_model

        return resolve_model(cfg.model)

    def tokenizer(self, cfg):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.model_path(cfg), trust_remote_code=cfg.trust_remote_code)

    def lora_config(self, cfg, task_type: str = "CAUSAL_LM", **extra):
        """LoRA on all linear layers with the run's rank, alpha and dropout; `extra` for a program's own choices (a
        reward model's `modules_to_save=["score"]`)."""
        from peft import LoraConfig

        return LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules="all-linear",
            task_type=task_type,
            **extra,
        )

    def quantization_config(self, cfg):
        """QLoRA's 4-bit (nf4) settings with load_in_4bit, else None."""
        if not getattr(cfg, "load_in_4bit", False):
            return None
        from trlrecipes.hardware import pick_precision, quantization_config

        return quantization_config(pick_precision(cfg.precision))

    # --- trainer plumbing ---------------------------------------------------------------------------------------
    def callbacks(self, cfg=None, *, verdicts: bool | None = None) -> list:
        """The health callback (metrics.jsonl, live line, verdicts) and the interrupt/checkpoint control. The
        callback reads the method's zero-margin loss from the trainer's own arguments (loss_type, beta)."""
        from trlrecipes.monitor.health import TrainingHealthCallback

        if verdicts is None:
            verdicts = getattr(cfg, "verdicts", True)
        self._health = TrainingHealthCallback(self.dir, verdicts=verdicts)
        self._stopper = run_control()
        return [self._health, self._stopper, _drop_replaced_callback(self.dir)]

    def trl_args(self, config_cls, cfg, *, has_eval: bool, quantize_on_load: bool = False, **by_hand):
        """The TRL config for this run. Every Config field that is also a field of `config_cls` passes through by
        name; the run adds its plumbing (folder, precision, logging/checkpoint/eval intervals, tracker, tokenizer
        processes), `warmup` (a share below 1) and the model's loading arguments; `by_hand` sets fields a program
        computes (e.g. KTO's class weights); `trl.<field>=` settings come last and win.

        `quantize_on_load`: put QLoRA's quantization config into the model's loading arguments, for trainers that
        take no `quantization_config` argument (ORPO)."""
        import dataclasses

        from trlrecipes.hardware import pick_precision

        precision = pick_precision(cfg.precision)
        trl_fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
        passed = {
            f.name: getattr(cfg, f.name)
            for f in dataclasses.fields(cfg)
            if f.name in trl_fields and f.name not in RUN_OWNED
        }
        model_init = {"dtype": precision.torch_dtype, "trust_remote_code": cfg.trust_remote_code}
        if quantize_on_load and self.quantization_config(cfg) is not None:
            model_init["quantization_config"] = self.quantization_config(cfg)
        settings = {
            **passed,
            **self.trl_settings(
                precision,
                logging_steps=cfg.logging_steps,
                save_steps=cfg.save_steps,
                eval_steps=cfg.eval_steps,
                has_eval=has_eval,
                report_to=cfg.report_to,
            ),
            "max_steps": cfg.max_steps or -1,  # 0 = run num_train_epochs
            "warmup_steps": cfg.warmup,  # below 1: a share of the total steps
            "model_init_kwargs": model_init,
            **by_hand,
            **cfg.trl,
        }
        return build_trl_config(config_cls, settings)

    def trl_settings(
        self,
        precision,
        *,
        logging_steps: int,
        save_steps: int,
        eval_steps: int,
        has_eval: bool,
        report_to: str = "none",
        save_total_limit: int = 2,
    ) -> dict:
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

        `group_by_length`: micro-batches of pairs of similar length, the groups in random order (data/batching.py)
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
            try:
                self._train(trainer, group_by_length)
            except RunStopped:
                raise  # the status is set (diverged, interrupted)
            except BaseException as err:
                step = trainer.state.global_step
                if step == 0 and is_main_process() and run_folder.restore_replaced(self.dir):
                    _say(f"the run this one was to replace is back in {self.dir}, unchanged (no step was trained)")
                    self.started = False  # nothing of this run is left to record
                if isinstance(err, KeyboardInterrupt):
                    self._set_status("interrupted", step)
                else:
                    self._set_status("failed", step, reason=f"{type(err).__name__}: {err}".splitlines()[0])
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

        hide_bars()  # after TRL's tokenization (see trl_settings); the live line shows training
        _quiet_printer(trainer)
        self._health.trackers = tracker_callbacks(trainer)
        _check_trainable_rows(trainer, self.data_summaries)
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
            self._set_status("diverged", step)
            raise RunStopped(
                f"training stopped at step {step}: the loss became NaN/inf; {kept}. {nan_advice(trainer.args)}",
                exit_code=1,
            )
        trainer.save_model(str(self.dir))
        signum = self._stopper.signum
        finished = bool(trainer.state.max_steps) and step >= trainer.state.max_steps
        if signum is not None and not finished:
            self._set_status("interrupted", step)
            self._write_card()
            name = signal.Signals(signum).name
            raise RunStopped(
                f"{name}: stopped after step {step}; checkpoint, adapter and metrics are saved in "
                f"{self.dir}.\nresume with: {self.resume_command}",
                exit_code=EXIT_CODES[signum],
            )
        if is_main_process():
            run_folder.drop_replaced(self.dir)  # e.g. max_steps=0 of a resumed run: no step ended to drop it
        self._set_status("completed", step)
        self._write_card()
        _say(f"adapter and tokenizer saved in {self.dir}")

    def _write_card(self) -> None:
        """README.md from the run's own files, replacing the card TRL's save_model wrote."""
        if is_main_process():
            from trlrecipes.tools.card import write_card

            write_card(self.dir)

    def _record_engine(self, trainer) -> None:
        """Write which engine trains (DDP, FSDP, DeepSpeed) and how many processes into run.json, and say so when it
        is not the one asked for: accelerate applies FSDP only on GPUs, so a launch with the FSDP config (or
        trl.fsdp=...) on CPU trains as plain DDP instead (measured with accelerate 1.15; README, Scaling out)."""
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
        run_folder.update_info(self.dir, distributed=distributed)

    def _set_status(self, status: str, step: int, reason: str | None = None) -> None:
        """Record how the run ended in run.json (best effort: a full disk must not hide the original error)."""
        if not is_main_process() or not self.started:
            return
        fields = {"status": status, "global_step": step, "reason": reason}
        try:
            run_folder.update_info(self.dir, **fields)
        except OSError as err:
            _say(f"could not record status {status!r} in {self.dir / run_folder.RUN_INFO}: {err}")


def _drop_replaced_callback(folder: Path):
    """Deletes the run an --overwrite moved aside once the new run has finished its first optimizer step."""
    from transformers import TrainerCallback

    class DropReplaced(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero and (folder / run_folder.REPLACED).exists():
                run_folder.drop_replaced(folder)

    return DropReplaced()


def fingerprint(dataset) -> dict:
    """Row count and a SHA-256 of the converted rows, in order (datasets' own fingerprint is private and also
    changes with how a dataset was made, not only with what it holds). Measured: 5-7 s for 43,835 short pairs on
    the busy 2-core test machine, where converting them took 17 s."""
    from trlrecipes.data.common import content_sha256

    return {"rows": len(dataset), "sha256": content_sha256(dataset)}


def check_same_data(folder: Path, now: dict[str, dict], splits: list[str] | None = None) -> None:
    """A resume continues from a checkpoint trained on the data recorded in run.json: refuse when a split changed
    (a run recorded before fingerprints existed is not checked). `splits`: only these (default: all)."""
    before = run_folder.read_info(folder).get("data_fingerprints")
    if not isinstance(before, dict):
        return
    for split in splits if splits is not None else sorted(set(before) | set(now)):
        old, new = before.get(split) or {}, now.get(split) or {}
        if old.get("sha256") != new.get("sha256"):
            counts = f"{old.get('rows', 'no')} rows then, {new.get('rows', 'no')} rows now"
            same = " (same count, different content)" if old.get("rows") == new.get("rows") else ""
            raise UserError(
                f"--resume: the {split} data changed since {folder} was trained ({counts}{same}); "
                f"restore it, or train anew with --overwrite or another output_dir=..."
            )


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
    dataset = getattr(trainer, "train_dataset", None)
    converted = summaries.get("train", {}).get("used")
    if dataset is None or not hasattr(dataset, "__len__") or converted is None:
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


def build_trl_config(config_cls, settings: dict):
    """Build a TRL config; its own validation errors are the user's settings, so they become one-line UserErrors.

    A `hub_token` is moved into the HF_TOKEN environment variable of this process (where huggingface_hub reads it
    for a push) instead of the config: transformers pickles the whole config into every checkpoint's
    training_args.bin, and a token must never be written to the run folder.
    """
    settings = dict(settings)
    token = settings.pop("hub_token", None)
    if token:
        os.environ["HF_TOKEN"] = str(token)
    precompute = refcache.take_request(config_cls, settings)  # trlrecipes runs that pass itself, cached
    try:
        args = config_cls(**settings)
    except (ValueError, TypeError) as err:
        raise UserError(f"{config_cls.__name__} rejected the settings: {err}".splitlines()[0]) from err
    refcache.remember(args, precompute)
    return args
