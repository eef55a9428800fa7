"""Errors that the CLI turns into exit codes.

`UserError` (exit 2) is for anything the user can fix: a bad config value, a missing file, malformed data.
Its message is printed as one line, so it must name the problem and the fix. Anything else is an internal
failure (exit 1).
"""


class UserError(Exception):
    """A problem with the user's input; printed as one line, exit code 2."""


class RunStopped(Exception):
    """Training ended early on purpose (interrupt, non-finite loss); the message says what was kept and what next.
    `status` is how the run ends in run.json ("interrupted", "diverged"), when the stop is a run's."""

    def __init__(self, message: str, exit_code: int, status: str | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
