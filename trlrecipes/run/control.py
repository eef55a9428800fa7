"""Interrupt and checkpoint control: during training the first SIGINT/SIGTERM finishes the step and saves, a second
exits at once; every checkpoint transformers finishes is marked complete (the marker a resume trusts). Outside
training (a program sampling replies between rounds) a signal stops at once with the resume command
(`stop_on_signal`): what was written before it is kept and the resume continues from there."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from trlrecipes.errors import RunStopped
from trlrecipes.hardware import is_main_process
from trlrecipes.run import folder as run_folder

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def run_control():
    """Build the callback lazily so importing this module does not import transformers."""
    from transformers import TrainerCallback

    class RunControl(TrainerCallback):
        """First SIGINT/SIGTERM: finish the step, save a checkpoint, stop; a second one exits at once.
        Also marks each checkpoint complete once transformers has finished writing it."""

        def __init__(self):
            self.signum: int | None = None
            self._previous: dict = {}

        def install(self) -> None:
            for signum in EXIT_CODES:
                try:
                    self._previous[signum] = signal.signal(signum, self._handle)
                except ValueError:  # not the main thread (e.g. some notebook runners): no graceful stop there
                    pass

        def uninstall(self) -> None:
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            self._previous.clear()

        def _handle(self, signum, frame) -> None:
            # os.write, not print: the signal may arrive while the main thread is inside a print to the same
            # stream, and a buffered write from the handler would then raise "reentrant call".
            name = signal.Signals(signum).name
            if self.signum is not None:
                _write_stderr(
                    f"\n{name} received again: exiting now; the newest checkpoint with a "
                    f"{run_folder.COMPLETE_MARKER} marker is still the one to resume from\n"
                )
                os._exit(EXIT_CODES[signum])
            self.signum = signum
            if is_main_process():
                _write_stderr(
                    f"\n{name} received: stopping after this step and saving a checkpoint "
                    f"(press Ctrl-C again to quit at once)\n"
                )

        def on_step_end(self, args, state, control, **kwargs):
            if self.signum is not None:
                control.should_log = True  # the steps since the last log are written to metrics.jsonl too
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and checkpoint.is_dir():
                (checkpoint / run_folder.COMPLETE_MARKER).write_text("ok\n")
            return control

    return RunControl()


def _write_stderr(text: str) -> None:
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


@contextlib.contextmanager
def signals_raise(error):
    """Within the block, SIGINT/SIGTERM raise `error(signum)` where the program stands (then the previous handlers
    are back): for work outside training steps, which a stop may end at once."""

    def handle(signum, frame):
        raise error(signum)

    previous = {}
    for signum in EXIT_CODES:
        try:
            previous[signum] = signal.signal(signum, handle)
        except ValueError:  # not the main thread: the default behaviour stays
            pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_on_signal(what: str, resume_command: str):
    """SIGINT/SIGTERM end the block with RunStopped (exit 130/143, the resume line) instead of a traceback or a
    silent kill: for work between training steps whose output is written as it goes (sampled pairs)."""

    def stopped(signum):
        return RunStopped(
            f"{signal.Signals(signum).name}: stopped while {what}; what was written is kept.\nresume with: "
            f"{resume_command}",
            exit_code=EXIT_CODES[signum],
            status="interrupted",
        )

    return signals_raise(stopped)
