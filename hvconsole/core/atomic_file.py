"""Replace a file so that a crash, a power cut or a full disk leaves either the old
content or the new content, never a torn mix.

The recipe: write a temporary file in the *same directory* (so the final rename stays on
one filesystem), flush and fsync it, ``os.replace`` it over the target (atomic on POSIX and
on NTFS), then fsync the directory so the rename itself survives a power cut (POSIX
only: Windows cannot open a directory for fsync, and NTFS journals the rename anyway).

Also here: moving a bad file aside under a name that says when and why, so that it is
kept for the admin instead of being silently overwritten.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# Owner-only: the inventory holds no secret, but host names, accounts and the shape of
# the admin's estate are still nobody else's business on a shared machine.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Write ``data`` to ``path`` atomically, creating the parent folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # Never leave half-written temp files behind, whatever went wrong.
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = PRIVATE_FILE_MODE) -> None:
    # newline="\n" semantics on every platform: the files are meant to diff cleanly.
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def fsync_directory(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_aside(path: Path, reason: str, *, now: datetime | None = None) -> Path:
    """Rename ``path`` to ``<name>.<reason>-<UTC timestamp>`` and return the new path.

    Used for files that cannot be read: the admin keeps the original to inspect or
    restore, and the program can start afresh without destroying anything.
    """
    path = Path(path)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    counter = 1
    while target.exists():  # two failures within one second must not overwrite each other
        target = path.with_name(f"{path.name}.{reason}-{stamp}-{counter}")
        counter += 1
    os.replace(path, target)
    fsync_directory(path.parent)
    return target
