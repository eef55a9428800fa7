"""Can a path the user named be written? Asked before any slow work, so a run, a conversion or a copy never fails
at its very end on an output it could not write.

Permissions alone do not answer it (root may "write" into /proc, where no folder can be made; a read-only mount
refuses everyone): the folder that would hold the output is probed by making and removing an empty folder in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from trlrecipes.errors import UserError


def check_writable(path: str | Path, subject: str, *, folder: bool) -> None:
    """Raise a one-line UserError unless `path` (a folder to fill when `folder`, else a file) can be written.

    `subject` names the value in the message (e.g. `output_dir=/proc/x` or `--output out.jsonl`). Nothing is left
    behind: the probe folder is removed at once, and missing parent folders are not made here.
    """
    path = Path(path).expanduser()
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{subject}: {path} is a file, not a folder; choose another folder")
    if not folder and path.is_dir():
        raise UserError(f"{subject}: {path} is a folder; name a file, e.g. {path / 'out.jsonl'}")
    if not folder and path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{subject}: {path} exists and is read-only; choose another file")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{subject}: {existing} is a file, so {path} cannot be made there; choose another path")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".trlrecipes-write-check-", dir=existing))
    except OSError as err:
        raise UserError(
            f"{subject}: cannot write in {existing} ({err.strerror or err}); choose a path you can write to"
        ) from err
