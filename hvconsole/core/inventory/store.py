"""The inventory file: versioned JSON, written atomically, never silently replaced.

What happens to a file that is not right (docs/bad-input.md):

- one bad entry (an invalid field, a duplicate name) costs only that entry: it is set
  aside in ``hosts.json.rejected-<UTC timestamp>`` (an importable inventory holding just the
  rejected entries and why), ``hosts.json`` keeps every good one, and the admin is told which
  entry and where it went;
- a ``password`` (or other secret) field is removed from the file, wherever it is, and the
  admin is told: passwords live only in the OS keyring. No copy this module writes keeps it;
- a file written by a newer hvconsole is neither used nor changed (nor renamed): saving is
  refused until the newer version or the admin deals with it;
- a file that cannot be understood at all (not UTF-8, not JSON, nested too deeply, not an
  inventory) is moved aside as ``hosts.json.corrupt-<UTC timestamp>`` (secret values
  blanked) and the program starts with an empty inventory.

Every one of these is a :class:`LoadResult` problem in words for the admin; nothing here
raises for a file's content. Only a file that cannot be *read* (permissions, a folder in
its place) raises :class:`InventoryError`, and is left alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from ..atomic_file import atomic_write_bytes, atomic_write_text, move_aside
from .fields import SECRET_KEYS, InventoryConflictError, InventoryError
from .model import FORMAT_ID, FORMAT_VERSION, Inventory, NewerFormatError, RejectedEntry

# The longest integer a host entry could need is a port (5 digits); longer digit runs are
# kept as text so that validation names the field instead of int() failing at 4,300 digits.
MAX_INT_DIGITS = 30
PASSWORD_HINT = ("hvconsole keeps passwords only in the OS keyring; set it with "
                 "`hvconsole hosts edit NAME --password`")


@dataclass(frozen=True, slots=True)
class LoadResult:
    inventory: Inventory
    problems: tuple[str, ...] = ()  # what was wrong with the file and what was done, for the admin
    moved_to: Path | None = None    # where a wholly unusable file was kept
    set_aside_to: Path | None = None  # where rejected entries were kept
    read_only: bool = False         # written by a newer hvconsole: not used, never changed

    @property
    def problem(self) -> str | None:
        """All problems as one text (``None`` when the file was fine)."""
        return "; ".join(self.problems) if self.problems else None


class InventoryStore:
    """Reads and writes one inventory file; refuses to overwrite changes made by another
    hvconsole process since this one read the file (GUI and CLI may run side by side)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._read_digest: str | None = None
        self._refusal: str | None = None    # why this file must not be changed

    def load(self) -> LoadResult:
        self._refusal = None
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._read_digest = None
            return LoadResult(Inventory())
        except OSError as exc:
            # Unreadable is not corrupt: leave the file alone and say why.
            raise InventoryError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        name = self.path.name
        try:
            doc = decode_document(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return self._unusable(raw, None, "not UTF-8 text")
        except InventoryError as exc:
            return self._unusable(raw, None, str(exc))
        removed = strip_secrets(doc)
        try:
            inventory, rejected = Inventory.from_document_lenient(doc)
        except NewerFormatError as exc:
            self._read_digest = _digest(raw)
            self._refusal = f"{self.path} was {exc}"
            return LoadResult(Inventory(), read_only=True, problems=(
                f"{name} was {exc}. No hosts are used from it: run the newer hvconsole, or move the "
                "file away to start a new inventory with this one",))
        except InventoryError as exc:
            return self._unusable(raw, doc if removed else None, str(exc))
        if not rejected and not removed:
            self._read_digest = _digest(raw)
            return LoadResult(inventory)
        return self._repair(raw, inventory, rejected, removed)

    def save(self, inventory: Inventory) -> None:
        if self._refusal is not None:
            raise InventoryError(f"{self._refusal}; nothing was saved")
        try:
            current = _digest(self.path.read_bytes())
        except FileNotFoundError:
            current = None
        if current != self._read_digest:
            raise InventoryConflictError(
                f"{self.path} was changed by another hvconsole since it was read; nothing was saved. "
                "Reload and make the change again.")
        self._write(inventory)

    # -- the file's problems ----------------------------------------------------------------

    def _write(self, inventory: Inventory) -> None:
        text = json.dumps(inventory.to_document(), ensure_ascii=False, indent=2) + "\n"
        atomic_write_text(self.path, text)
        self._read_digest = _digest(text.encode("utf-8"))

    def _unusable(self, raw: bytes, sanitized: Any | None, problem: str) -> LoadResult:
        """Move the whole file aside (its secret values blanked) and start empty. When it
        cannot be moved (a read-only folder), it is left in place and never overwritten."""
        try:
            moved = move_aside(self.path, "corrupt")
            if sanitized is not None:
                atomic_write_text(moved, json.dumps(sanitized, ensure_ascii=False, indent=2) + "\n")
            else:
                redacted, count = redact_secret_values(raw)
                if count:
                    atomic_write_bytes(moved, redacted)
        except OSError as exc:
            self._read_digest = _digest(raw)
            self._refusal = f"{self.path} cannot be used and could not be moved aside"
            return LoadResult(Inventory(), read_only=True, problems=(
                f"{self.path.name}: {problem}; it could not be moved aside ({exc.strerror or exc}), so it is "
                "left as it is and no hosts are loaded from it",))
        self._read_digest = None
        return LoadResult(Inventory(), moved_to=moved, problems=(
            f"{self.path.name}: {problem}; the file was kept as {moved} and no hosts are loaded from it",))

    def _repair(self, raw: bytes, inventory: Inventory, rejected: list[RejectedEntry],
                removed: list[str]) -> LoadResult:
        """Keep the good entries in the file, the rejected ones in a file of their own, and
        no secret anywhere; say what was done."""
        name = self.path.name
        problems: list[str] = []
        aside: Path | None = None
        try:
            current = self.path.read_bytes()
        except OSError:
            current = None
        if current != raw:                     # another process wrote meanwhile: its file wins
            self._read_digest = _digest(raw)
            return LoadResult(inventory, problems=(
                f"{name} changed while it was being read; load it again",))
        try:
            if rejected:
                aside = _aside_name(self.path, "rejected")
                atomic_write_text(aside, _rejected_document(rejected))
            self._write(inventory)
        except OSError as exc:
            # Nothing could be set aside or rewritten: use the good entries, change nothing,
            # and refuse to save over the file (the bad entries would be lost).
            self._read_digest = _digest(raw)
            self._refusal = f"{self.path} holds entries that could not be set aside"
            problems = [f"{name}: {r.describe()}" for r in rejected]
            if removed:
                problems.append(f"{name}: {', '.join(removed)}: holds a password field; " + PASSWORD_HINT)
            problems.append(f"{name}: could not be repaired ({exc.strerror or exc}); the good entries are "
                            "used and the file is left as it is until it can be written")
            return LoadResult(inventory, problems=tuple(problems), read_only=True)
        if rejected:
            problems += [f"{name}: {r.describe()}; this entry was set aside in {aside} "
                         f"(fix it there and `hvconsole hosts import` it)" for r in rejected]
        if removed:
            problems.append(f"{name}: {', '.join(removed)}: a password field was removed from the file; "
                            + PASSWORD_HINT)
        if rejected:
            kept = len(inventory)
            problems.append(f"{name}: the other {kept} host{'s' if kept != 1 else ''} "
                            f"{'are' if kept != 1 else 'is'} loaded")
        return LoadResult(inventory, problems=tuple(problems), set_aside_to=aside)


def decode_document(text: str) -> Any:
    """JSON text of an inventory or an import: the one place that parses it, so that a
    huge integer, deep nesting or bad JSON is one :class:`InventoryError`, never
    ValueError or RecursionError."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InventoryError("JSON nested too deeply") from None
    except ValueError as exc:       # a float literal beyond what Python converts, and the like
        raise InventoryError(f"not valid JSON ({str(exc)[:80]})") from None


def _bounded_int(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else digits


def strip_secrets(doc: object) -> list[str]:
    """Remove every secret-named key (``password``, ``pwd``, ...) anywhere in ``doc``, in
    place; return where each was (``hosts[1].password``). Iterative: depth is no limit."""
    removed: list[str] = []
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                path = f"{where}.{key}" if where else str(key)
                if str(key).strip().casefold() in SECRET_KEYS:
                    del node[key]
                    removed.append(_printable_path(path))
                else:
                    stack.append((node[key], path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
    return sorted(removed)


_SECRET_VALUE = re.compile(
    r'("\s*(?:' + "|".join(sorted(SECRET_KEYS)) + r')\s*"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]*)',
    re.IGNORECASE)


def redact_secret_values(raw: bytes) -> tuple[bytes, int]:
    """Blank the value after each ``"password":`` in a file that is not valid JSON (best
    effort: the file cannot be parsed, so it is matched as text). Bytes that are not UTF-8
    pass through unchanged (latin-1 maps every byte to one character and back)."""
    text, count = _SECRET_VALUE.subn(r'\1"(removed)"', raw.decode("latin-1"))
    return text.encode("latin-1"), count


def _printable_path(path: str) -> str:
    return path.encode("ascii", "backslashreplace").decode("ascii")[:80]


def _aside_name(path: Path, reason: str) -> Path:
    from datetime import datetime
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{reason}-{stamp}-{counter}")
        counter += 1
    return target


def _rejected_document(rejected: list[RejectedEntry]) -> str:
    """An inventory document of the rejected entries (importable once fixed), each with
    the reason it was rejected beside it."""
    hosts, reasons = [], []
    for r in rejected:
        try:
            json.dumps(r.entry)
            hosts.append(r.entry)
        except (ValueError, TypeError, RecursionError):
            hosts.append({"unreadable_entry": True})
        reasons.append(r.describe())
    doc = {"format": FORMAT_ID, "version": FORMAT_VERSION, "set_aside_because": reasons, "hosts": hosts}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


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
