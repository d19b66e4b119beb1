"""The recovery journal: every incident (one VM, or one host's VMMS) and every step of it,
intent written before the step runs and outcome after.

SQLite beside the patch journal (``recovery-journal.sqlite`` in the same folder: the data
directory, or its ``demo/`` for the simulated site), opened like every journal of the
console (``core.sqlite_store``: WAL, full sync, schema version). If the console dies
between the two writes, the journal shows a step with no outcome; the engine then reads
the host before doing anything else and records what it found (docs/recovery.md
"Resuming"). Rows are appended or completed, never rewritten: the journal is also the
record the incident report is made from. Folder 0700, file 0600 (POSIX).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..journal_step import JournalledStep
from ..sqlite_store import SqliteStore, StoreOpenError, dump_json, inserted_id, private_dir
from ..timeutil import format_time, parse_time, utcnow
from .rules import OUTCOMES, STEPS

FILE_NAME = "recovery-journal.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT NOT NULL,
    host        TEXT NOT NULL,
    vm_id       TEXT NOT NULL,
    vm_name     TEXT,
    who         TEXT NOT NULL,
    finding_json TEXT,
    state       TEXT NOT NULL,          -- open | recovered | closed
    closed_at   TEXT,
    summary     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    step        TEXT NOT NULL,
    intent_json TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    outcome     TEXT,                   -- NULL while in flight
    evidence_json TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS actions_by_incident ON actions(incident_id, id);
"""
SCHEMA_VERSION = "1"
STATES = ("open", "recovered", "closed")


class RecoveryJournalError(RuntimeError):
    pass


@dataclass(frozen=True)
class Incident:
    id: int
    created_at: datetime
    host: str
    vm_id: str
    vm_name: str | None
    who: str
    finding: Mapping[str, Any] | None
    state: str
    closed_at: datetime | None
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Action(JournalledStep):
    """A step of one incident."""

    incident_id: int


def journal_file(folder: Path) -> Path:
    return Path(folder) / FILE_NAME


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no user name in this environment (a service account without one)
        return "unknown"


class RecoveryJournal:
    """One journal file; thread-safe (one connection, one lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        private_dir(self.path.parent)
        try:
            self._store = SqliteStore(self.path, _SCHEMA, SCHEMA_VERSION, what="the recovery journal")
        except StoreOpenError as exc:
            raise RecoveryJournalError(str(exc)) from None

    def close(self) -> None:
        self._store.close()

    # -- incidents -----------------------------------------------------------------------

    def create_incident(self, host: str, vm_id: str, vm_name: str | None, *,
                        finding: Mapping[str, Any] | None = None, who: str | None = None,
                        at: datetime | None = None) -> int:
        with self._store.transaction() as db:
            cur = db.execute(
                "INSERT INTO incidents(created_at, host, vm_id, vm_name, who, finding_json, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'open')",
                (format_time(at or utcnow()), host, vm_id.lower(), vm_name, who or current_user(),
                 None if finding is None else dump_json(finding)))
            return inserted_id(cur)

    def incident(self, incident_id: int) -> Incident:
        with self._store.reading() as db:
            row = db.execute("SELECT * FROM incidents WHERE id=?", (incident_id,)).fetchone()
            cols = [d[0] for d in db.execute("SELECT * FROM incidents LIMIT 0").description]
        if row is None:
            raise RecoveryJournalError(f"no recovery incident {incident_id}")
        return _incident(dict(zip(cols, row, strict=True)))

    def incidents(self, *, open_only: bool = False) -> list[Incident]:
        sql = "SELECT * FROM incidents" + (" WHERE state='open'" if open_only else "") + " ORDER BY id"
        with self._store.reading() as db:
            cur = db.execute(sql)
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [_incident(dict(zip(cols, r, strict=True))) for r in rows]

    def open_incident(self, host: str, vm_id: str) -> Incident | None:
        """The newest unfinished incident of this VM (host names compared case-insensitively)."""
        found = [i for i in self.incidents(open_only=True)
                 if i.host.casefold() == host.casefold() and i.vm_id == vm_id.lower()]
        return found[-1] if found else None

    def set_vm_name(self, incident_id: int, vm_name: str) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE incidents SET vm_name=? WHERE id=? AND vm_name IS NULL", (vm_name, incident_id))

    def close_incident(self, incident_id: int, state: str, summary: str, at: datetime | None = None) -> None:
        if state not in STATES[1:]:
            raise ValueError(f"an incident closes as recovered or closed, not {state!r}")
        with self._store.transaction() as db:
            db.execute("UPDATE incidents SET state=?, summary=?, closed_at=? WHERE id=? AND state='open'",
                       (state, summary, format_time(at or utcnow()), incident_id))

    # -- actions -------------------------------------------------------------------------

    def begin(self, incident_id: int, step: str, intent: Mapping[str, Any], at: datetime | None = None) -> int:
        if step not in STEPS:
            raise ValueError(f"unknown recovery step {step!r}")
        with self._store.transaction() as db:
            cur = db.execute(
                "INSERT INTO actions(incident_id, step, intent_json, started_at) VALUES (?, ?, ?, ?)",
                (incident_id, step, dump_json(intent), format_time(at or utcnow())))
            return inserted_id(cur)

    def finish(self, action_id: int, outcome: str, evidence: Mapping[str, Any], at: datetime | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._store.transaction() as db:
            db.execute("UPDATE actions SET outcome=?, evidence_json=?, finished_at=? "
                       "WHERE id=? AND outcome IS NULL",
                       (outcome, dump_json(evidence), format_time(at or utcnow()), action_id))

    def actions(self, incident_id: int) -> list[Action]:
        with self._store.reading() as db:
            cur = db.execute("SELECT * FROM actions WHERE incident_id=? ORDER BY id", (incident_id,))
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [_action(dict(zip(cols, r, strict=True))) for r in rows]

    def active_steps(self) -> list[tuple[Incident, Action]]:
        """Steps in flight now, with their incident (for the maintenance registry: the
        detector is silent for that VM only while one runs)."""
        out = []
        for incident in self.incidents(open_only=True):
            out += [(incident, a) for a in self.actions(incident.id) if a.in_flight]
        return out


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _incident(row: dict[str, Any]) -> Incident:
    return Incident(id=row["id"], created_at=parse_time(row["created_at"]), host=row["host"], vm_id=row["vm_id"],
                    vm_name=row["vm_name"], who=row["who"], finding=_load(row["finding_json"]), state=row["state"],
                    closed_at=None if row["closed_at"] is None else parse_time(row["closed_at"]),
                    summary=row["summary"] or "")


def _action(row: dict[str, Any]) -> Action:
    return Action(id=row["id"], incident_id=row["incident_id"], step=row["step"], intent=_load(row["intent_json"]),
                  started_at=parse_time(row["started_at"]), outcome=row["outcome"],
                  evidence=_load(row["evidence_json"]),
                  finished_at=None if row["finished_at"] is None else parse_time(row["finished_at"]))
