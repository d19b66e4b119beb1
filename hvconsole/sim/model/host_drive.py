"""A simulated host's ``C:`` drive: the few files the patch workflow puts there.

By default the drive is a table in memory (:class:`MemoryDrive`). A test that stages a
package over real SMB points the host's ``C:\\`` at a real folder instead
(:class:`FolderDrive`, e.g. the ``C$`` share of a Samba server on loopback), so that
``patch_stage_check`` hashes exactly the bytes that were copied.

Paths are Windows paths and are compared the way Windows compares them: ``/`` and ``\\``
are the same separator, case does not matter, ``.``/``..`` are resolved first
(:func:`full_path` plays ``[IO.Path]::GetFullPath``). A folder drive never reaches outside
its folder, whatever the path says.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_DRIVE_PATH = re.compile(r"([A-Za-z]):\\(.*)", re.S)
_BAD_CHARS = re.compile(r'[<>"|?*\x00-\x1f]')
MAX_PATH = 259
CHUNK = 1024 * 1024


class PathError(ValueError):
    """Not a usable absolute Windows path (the message says why)."""


def full_path(text: object) -> str:
    """The normalised absolute form of a Windows path (``C:\\dir\\file``), or PathError."""
    if not isinstance(text, str) or not text.strip():
        raise PathError("path must be a non-empty string")
    if len(text) > MAX_PATH:
        raise PathError(f"path is longer than {MAX_PATH} characters")
    if _BAD_CHARS.search(text):
        raise PathError("path contains a character Windows does not allow in paths")
    match = _DRIVE_PATH.fullmatch(text.replace("/", "\\"))
    if match is None:
        raise PathError("path must be absolute, with a drive letter (C:\\...)")
    parts: list[str] = []
    for part in match[2].split("\\"):
        if ":" in part:
            raise PathError("':' is allowed only after the drive letter (no alternate data streams)")
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        part = part.rstrip(" .")       # Windows drops trailing dots and spaces of a name
        if part:
            parts.append(part)
    return match[1].upper() + ":\\" + "\\".join(parts)


def file_name_of(path: str) -> str:
    return path.rsplit("\\", 1)[-1]


class MemoryDrive:
    """Files kept in memory, keyed case-insensitively like NTFS."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}

    def read(self, path: str) -> bytes | None:
        entry = self._files.get(full_path(path).lower())
        return None if entry is None else entry[1]

    def write(self, path: str, data: bytes) -> None:
        normal = full_path(path)
        self._files[normal.lower()] = (normal, bytes(data))

    def delete(self, path: str) -> bool:
        return self._files.pop(full_path(path).lower(), None) is not None

    def size(self, path: str) -> int | None:
        data = self.read(path)
        return None if data is None else len(data)

    def sha256(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else hashlib.sha256(data).hexdigest()

    def used_bytes(self) -> int:
        return sum(len(data) for _, data in self._files.values())

    def __repr__(self) -> str:
        return f"MemoryDrive({len(self._files)} files)"


class FolderDrive:
    """``C:\\`` mapped onto a real folder: ``C:\\hvconsole\\x`` is ``<root>/hvconsole/x``,
    names matched case-insensitively (Samba keeps the case the client sent)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is not a folder")

    def _local(self, path: str) -> Path:
        normal = full_path(path)
        if not normal.upper().startswith("C:\\"):
            raise PathError("only drive C: exists on this simulated host")
        current = self.root
        for part in [p for p in normal[3:].split("\\") if p]:
            current = _child(current, part)
        resolved = current.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise PathError("path leaves the simulated drive")     # a symlink in the folder
        return resolved

    def read(self, path: str) -> bytes | None:
        local = self._local(path)
        return local.read_bytes() if local.is_file() else None

    def write(self, path: str, data: bytes) -> None:
        local = self._local(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)

    def delete(self, path: str) -> bool:
        local = self._local(path)
        if not local.is_file():
            return False
        local.unlink()
        return True

    def size(self, path: str) -> int | None:
        local = self._local(path)
        return local.stat().st_size if local.is_file() else None

    def sha256(self, path: str) -> str | None:
        local = self._local(path)
        if not local.is_file():
            return None
        digest = hashlib.sha256()
        with local.open("rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        return digest.hexdigest()

    def used_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    def __repr__(self) -> str:
        return f"FolderDrive({self.root})"


def _child(folder: Path, name: str) -> Path:
    """``folder/name``, or the existing entry whose name matches case-insensitively."""
    exact = folder / name
    if exact.exists() or not folder.is_dir():
        return exact
    lowered = name.lower()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower() == lowered:
                    return folder / entry.name
    except OSError:
        pass
    return exact
