"""Every file trlrecipes writes is written here, atomically: a temporary file in the same folder, then a rename.

A reader (a report, a resume, a second command) sees the old file or the new one, never half of one, whatever
interrupts the write (Ctrl-C, a full disk, kill -9). The rename replaces the directory entry itself, so a symlink
planted where the file goes is replaced by the file, and the file the link pointed to (outside the run folder,
say) is never written through. The temporary file is removed on any failure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _replace(path: str | Path, fill) -> Path:
    """Write through `fill(handle)` into a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return _replace(path, lambda handle: handle.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, value, *, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def copy(source: str | Path, path: str | Path) -> Path:
    """Copy a file's bytes (not its link, not its metadata) to `path`, atomically."""

    def fill(handle):
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle)

    return _replace(path, fill)


def append_line(path: str | Path, line: str) -> None:
    """Append one line to a log (metrics.jsonl): a planted symlink is replaced by a copy of what it pointed to
    before the first append, so appends never reach a file outside the folder."""
    path = Path(path)
    if path.is_symlink():
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        write_text(path, text)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line if line.endswith("\n") else line + "\n")
