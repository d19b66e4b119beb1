"""The update catalog: which KB fixes what, and which build each OS must reach.

The next incident will have a KB number nobody knows today, so this is data, not code
(hyperv-notes §1): the shipped file ``resources/catalog/updates.json`` plus the admin's own
entries (same format) from a folder in the config directory. A bad entry is reported with
its file and position; it never takes the rest of the catalog down with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .applicability import CONDITIONS

SCHEMA_ID = "hvconsole.catalog/1"
_KB = re.compile(r"^KB\d{6,8}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_KINDS = frozenset({"OOB", "monthly", "hotpatch", "other"})
_TRACKS = frozenset({"standard", "hotpatch"})


class CatalogError(ValueError):
    """One catalog entry (or file) that cannot be used; ``where`` says which."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class BuildTarget:
    """For hosts on ``build`` (CurrentBuild), the fix is in from ``min_ubr`` on ``track``."""

    product: str
    build: int
    min_ubr: int
    track: str = "standard"

    @property
    def version(self) -> str:
        return f"{self.build}.{self.min_ubr}"

    def reached_by(self, build: int | None, ubr: int | None) -> bool:
        """True when a host running ``build.ubr`` has the fix (same CurrentBuild, UBR at or
        above the target; UBRs only compare within one build and track)."""
        return build == self.build and ubr is not None and ubr >= self.min_ubr


@dataclass(frozen=True, slots=True)
class Package:
    file: str
    sha256: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogUpdate:
    kb: str
    title: str
    released: date
    kind: str
    targets: tuple[BuildTarget, ...]
    symptoms: tuple[str, ...] = ()
    regressed_by: tuple[str, ...] = ()
    source: str | None = None
    packages: tuple[Package, ...] = ()
    origin: str = "shipped"     # "shipped" or the user file it came from
    # What must be true of a host for the fix to apply (core.applicability.CONDITIONS,
    # all must hold): e.g. KB5061906 only for hosts with confidential VMs.
    applies_if: tuple[str, ...] = ()

    def target_for(self, build: int | None, track: str = "standard") -> BuildTarget | None:
        """The target for a host on CurrentBuild ``build``; UBRs only compare within a track."""
        for t in self.targets:
            if t.build == build and t.track == track:
                return t
        return None


@dataclass(frozen=True, slots=True)
class Catalog:
    updates: tuple[CatalogUpdate, ...]
    problems: tuple[CatalogError, ...] = ()   # entries skipped, to show the admin

    def get(self, kb: str) -> CatalogUpdate | None:
        kb = kb.strip().upper()
        return next((u for u in self.updates if u.kb == kb), None)


def parse_catalog(doc: object, origin: str) -> tuple[list[CatalogUpdate], list[CatalogError]]:
    """Parse one catalog document; bad entries are returned as problems, not raised."""
    if not isinstance(doc, Mapping) or doc.get("schema") != SCHEMA_ID:
        raise CatalogError(origin, f"not a catalog file (expected \"schema\": \"{SCHEMA_ID}\")")
    entries = doc.get("updates")
    if not isinstance(entries, list):
        raise CatalogError(origin, "\"updates\" must be a list")
    updates: list[CatalogUpdate] = []
    problems: list[CatalogError] = []
    for i, raw in enumerate(entries):
        where = f"{origin} updates[{i}]"
        try:
            updates.append(_update(raw, where, origin))
        except CatalogError as exc:
            problems.append(exc)
    return updates, problems


def load_catalog(shipped: Path, user_dir: Path | None = None) -> Catalog:
    """The shipped catalog plus every ``*.json`` in ``user_dir``. A user entry with the same
    KB as a shipped one replaces it (the admin knows their site better than we do)."""
    by_kb: dict[str, CatalogUpdate] = {}
    problems: list[CatalogError] = []
    sources: list[Path] = [shipped]
    if user_dir is not None and user_dir.is_dir():
        sources += sorted(user_dir.glob("*.json"))
    for path in sources:
        origin = "shipped" if path == shipped else str(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            updates, bad = parse_catalog(doc, origin)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(CatalogError(origin, f"cannot read: {exc}"))
            continue
        except CatalogError as exc:
            problems.append(exc)
            continue
        problems += bad
        for u in updates:
            by_kb[u.kb] = u
    ordered = sorted(by_kb.values(), key=lambda u: (u.released, u.kb), reverse=True)
    return Catalog(updates=tuple(ordered), problems=tuple(problems))


def _update(raw: object, where: str, origin: str) -> CatalogUpdate:
    if not isinstance(raw, Mapping):
        raise CatalogError(where, "entry must be an object")
    kb = _text(raw, "kb", where).upper()
    if not _KB.match(kb):
        raise CatalogError(where, f"kb {kb[:20]!r} is not of the form KB1234567")
    kind = raw.get("kind", "other")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise CatalogError(where, f"kind must be one of {sorted(_KINDS)}")
    try:
        released = date.fromisoformat(_text(raw, "released", where))
    except ValueError:
        raise CatalogError(where, "released must be a date like 2025-05-23") from None
    targets = tuple(_target(t, f"{where}.targets[{j}]") for j, t in enumerate(_list(raw, "targets", where)))
    if not targets:
        raise CatalogError(where, "needs at least one target build")
    packages = tuple(_package(p, f"{where}.packages[{j}]") for j, p in enumerate(_list(raw, "packages", where)))
    applies_if = tuple(_condition(c, f"{where}.applies_if[{j}]") for j, c in enumerate(_list(raw, "applies_if", where)))
    return CatalogUpdate(
        kb=kb, title=_text(raw, "title", where), released=released, kind=kind, targets=targets,
        symptoms=tuple(str(s) for s in _list(raw, "symptoms", where)),
        regressed_by=tuple(str(s).upper() for s in _list(raw, "regressed_by", where)),
        source=raw.get("source") if isinstance(raw.get("source"), str) else None,
        packages=packages, origin=origin, applies_if=applies_if,
    )


def _condition(raw: object, where: str) -> str:
    """One name from the applicability vocabulary; an unknown name is an error for the
    entry (a typo must not make a fix look applicable everywhere)."""
    if not isinstance(raw, str) or raw.strip() not in CONDITIONS:
        known = ", ".join(sorted(CONDITIONS))
        raise CatalogError(where, f"unknown condition {str(raw)[:40]!r}; known: {known}")
    return raw.strip()


def _target(raw: object, where: str) -> BuildTarget:
    if not isinstance(raw, Mapping):
        raise CatalogError(where, "target must be an object")
    build, ubr = raw.get("build"), raw.get("min_ubr")
    if (not isinstance(build, int) or not isinstance(ubr, int) or isinstance(build, bool)
            or isinstance(ubr, bool) or build <= 0 or ubr < 0):
        raise CatalogError(where, "build and min_ubr must be whole numbers (e.g. 20348 and 3695)")
    track = raw.get("track", "standard")
    if not isinstance(track, str) or track not in _TRACKS:
        raise CatalogError(where, f"track must be one of {sorted(_TRACKS)}")
    return BuildTarget(product=str(raw.get("product") or ""), build=build, min_ubr=ubr, track=track)


def _package(raw: object, where: str) -> Package:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("file"), str) or not raw["file"].strip():
        raise CatalogError(where, "package needs a file name")
    name = raw["file"].strip()
    if "/" in name or "\\" in name or name in (".", ".."):
        raise CatalogError(where, "package file must be a bare file name")
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _SHA256.match(sha)):
        raise CatalogError(where, "sha256 must be 64 hex digits or null")
    url = raw.get("url")
    return Package(file=name, sha256=sha.lower() if sha else None, url=url if isinstance(url, str) else None)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise CatalogError(where, f"{key} is required")
    return v.strip()


def _list(raw: Mapping[str, Any], key: str, where: str) -> Iterable[Any]:
    v = raw.get(key, [])
    if not isinstance(v, list):
        raise CatalogError(where, f"{key} must be a list")
    return v
