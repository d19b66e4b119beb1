"""The inventory file: versioned JSON, written atomically, never silently replaced.

A file that cannot be understood (bad JSON, an unknown format version, an invalid entry) is
moved aside as ``hosts.json.corrupt-<UTC timestamp>`` and reported to the caller, who shows
it to the admin; the program then starts with an empty inventory and the original stays
on disk to inspect or restore.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..atomic_file import atomic_write_text, move_aside
from .fields import InventoryConflictError, InventoryError
from .model import Inventory


@dataclass(frozen=True, slots=True)
class LoadResult:
    inventory: Inventory
    problem: str | None = None      # why the file could not be used, for the admin
    moved_to: Path | None = None    # where the unusable file was kept


class InventoryStore:
    """Reads and writes one inventory file; refuses to overwrite changes made by another
    hvconsole process since this one read the file (GUI and CLI may run side by side)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._read_digest: str | None = None

    def load(self) -> LoadResult:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._read_digest = None
            return LoadResult(Inventory())
        except OSError as exc:
            # Unreadable is not corrupt: leave the file alone and say why.
            raise InventoryError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            inventory = Inventory.from_document(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, InventoryError) as exc:
            problem = describe_load_failure(exc)
            moved = move_aside(self.path, "corrupt")
            self._read_digest = None
            return LoadResult(Inventory(), problem=f"{self.path.name}: {problem}", moved_to=moved)
        self._read_digest = _digest(raw)
        return LoadResult(inventory)

    def save(self, inventory: Inventory) -> None:
        try:
            current = _digest(self.path.read_bytes())
        except FileNotFoundError:
            current = None
        if current != self._read_digest:
            raise InventoryConflictError(
                f"{self.path} was changed by another hvconsole since it was read; nothing was saved. "
                "Reload and make the change again.")
        text = json.dumps(inventory.to_document(), ensure_ascii=False, indent=2) + "\n"
        atomic_write_text(self.path, text)
        self._read_digest = _digest(text.encode("utf-8"))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe_load_failure(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc)
