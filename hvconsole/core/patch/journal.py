"""The patch journal: every step's intent is written before it runs and its outcome after.

SQLite in WAL mode under the platform data directory. If the console dies between the two
writes, the journal shows a step with an intent and no outcome; resume then asks the host
what really happened instead of trusting memory (docs/patching.md). Rows are only ever
appended or completed, never rewritten, so the journal is also the audit trail the report
is built from.

Besides the steps the journal keeps each run's progress events (``events``: what the
runner said, so a window in another process shows the same live log and soak countdown),
the run's closing reason, and the admin's promote/halt decision after the pilot. Those
columns and the events table were added to schema 1 in place (``_MIGRATIONS``): a journal
of an older version gains them when opened, and older versions ignore them.

The file is opened like every journal of the console (``core.sqlite_store``: WAL, full
sync, schema version, the folder 0700 and the file 0600 on POSIX).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..journal_step import JournalledStep
from ..sqlite_store import SqliteStore, StoreOpenError, dump_json, inserted_id
from ..timeutil import format_time, parse_time, utcnow
from .vocabulary import Phase, RunState, StepOutcome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT NOT NULL,
    kb          TEXT NOT NULL,
    plan_json   TEXT NOT NULL,
    state       TEXT NOT NULL             -- vocabulary.RunState
);
CREATE TABLE IF NOT EXISTS steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    host        TEXT NOT NULL,
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    intent_json TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    outcome     TEXT,                     -- NULL while in flight: ok, failed, skipped, cancelled
    evidence_json TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS steps_by_run ON steps(run_id, host, id);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    at          TEXT NOT NULL,            -- console clock, UTC
    host        TEXT NOT NULL,            -- '*' for run-wide events
    step        TEXT NOT NULL,
    phase       TEXT NOT NULL,            -- vocabulary.Phase
    text        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id, id);
"""
# Columns added to schema 1 after its first release: (table, column, declaration).
_MIGRATIONS = (
    ("runs", "reason", "TEXT NOT NULL DEFAULT ''"),          # why the run is in its state
    ("runs", "decision", "TEXT"),                            # vocabulary.Decision, NULL until given
    ("runs", "decision_at", "TEXT"),
)
SCHEMA_VERSION = "1"
RUN_STATES = frozenset(RunState)
OUTCOMES = frozenset(StepOutcome)
PHASES = frozenset(Phase)


class JournalError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    created_at: datetime
    kb: str
    plan: dict[str, Any]
    state: str
    reason: str = ""
    decision: str | None = None          # promote | halt, once the admin answered
    decision_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One progress event as the runner said it (``vocabulary.ProgressEvent`` + row id)."""

    id: int
    run_id: int
    at: datetime
    host: str
    step: str
    phase: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord(JournalledStep):
    """A step of a run on one host; ``attempt`` counts from 1 per (host, step)."""

    run_id: int
    host: str
    attempt: int


class Journal:
    """One SQLite file; safe to use from several threads of one process (one lock), and
    from a second process reading (WAL)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._store = SqliteStore(path, _SCHEMA, SCHEMA_VERSION, what="the patch journal")
        except StoreOpenError as exc:
            raise JournalError(str(exc)) from None
        self._migrate()

    def _migrate(self) -> None:
        with self._store.transaction() as db:
            for table, column, decl in _MIGRATIONS:
                have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------
    def create_run(self, kb: str, plan: Mapping[str, Any]) -> int:
        with self._store.transaction() as db:
            cur = db.execute("INSERT INTO runs(created_at, kb, plan_json, state) VALUES (?, ?, ?, 'planned')",
                             (format_time(utcnow()), kb, dump_json(plan)))
            return inserted_id(cur)

    def set_run_state(self, run_id: int, state: str, reason: str | None = None, *,
                      only_from: frozenset[str] | None = None) -> bool:
        """Write the run's state (and, when given, why). With ``only_from`` the state is
        written only if the current one is among them (one transaction: a request of
        another process in between is not overwritten); returns whether it was written."""
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        with self._store.transaction() as db:
            row = db.execute("SELECT state FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise JournalError(f"no run {run_id}")
            if only_from is not None and row[0] not in only_from:
                return False
            if reason is None:
                db.execute("UPDATE runs SET state=? WHERE id=?", (str(state), run_id))
            else:
                db.execute("UPDATE runs SET state=?, reason=? WHERE id=?", (str(state), reason, run_id))
            return True

    def set_decision(self, run_id: int, decision: str, state: str, reason: str | None = None) -> None:
        """Record the admin's promote/halt answer and the state it leads to, at once."""
        with self._store.transaction() as db:
            n = db.execute("UPDATE runs SET decision=?, decision_at=?, state=?, reason=COALESCE(?, reason) "
                           "WHERE id=?", (str(decision), format_time(utcnow()), str(state), reason, run_id)).rowcount
            if n != 1:
                raise JournalError(f"no run {run_id}")

    def run(self, run_id: int) -> RunRecord:
        with self._store.reading() as db:
            row = db.execute("SELECT id, created_at, kb, plan_json, state, reason, decision, decision_at "
                             "FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise JournalError(f"no patch run {run_id} in {self.path}")
        return RunRecord(row[0], parse_time(row[1]), row[2], json.loads(row[3]), row[4], row[5] or "",
                         row[6], parse_time(row[7]) if row[7] else None)

    # -- progress events --------------------------------------------------------------
    def add_event(self, run_id: int, host: str, step: str, phase: str, text: str,
                  at: datetime | None = None) -> int:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        with self._store.transaction() as db:
            cur = db.execute("INSERT INTO events(run_id, at, host, step, phase, text) VALUES (?,?,?,?,?,?)",
                             (run_id, format_time(at or utcnow()), host, str(step), str(phase), text))
            return inserted_id(cur)

    def events(self, run_id: int, after_id: int = 0, limit: int | None = None) -> list[EventRecord]:
        """Events of a run with an id above ``after_id`` (oldest first); with ``limit``,
        only the newest ``limit`` of them."""
        with self._store.reading() as db:
            if limit is None:
                rows = db.execute("SELECT id, run_id, at, host, step, phase, text FROM events "
                                  "WHERE run_id=? AND id>? ORDER BY id", (run_id, after_id)).fetchall()
            else:
                rows = db.execute("SELECT * FROM (SELECT id, run_id, at, host, step, phase, text FROM events "
                                  "WHERE run_id=? AND id>? ORDER BY id DESC LIMIT ?) ORDER BY id",
                                  (run_id, after_id, int(limit))).fetchall()
        return [EventRecord(r[0], r[1], parse_time(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def runs(self) -> list[RunRecord]:
        with self._store.reading() as db:
            rows = db.execute("SELECT id FROM runs ORDER BY id DESC").fetchall()
        return [self.run(r[0]) for r in rows]

    # -- steps ------------------------------------------------------------------------
    def begin_step(self, run_id: int, host: str, step: str, intent: Mapping[str, Any]) -> int:
        """Write the intent of a step before acting. Returns the step row id."""
        with self._store.transaction() as db:
            attempt = db.execute("SELECT COUNT(*) FROM steps WHERE run_id=? AND host=? AND step=?",
                                 (run_id, host, step)).fetchone()[0] + 1
            cur = db.execute(
                "INSERT INTO steps(run_id, host, step, attempt, intent_json, started_at) VALUES (?,?,?,?,?,?)",
                (run_id, host, str(step), attempt, dump_json(intent), format_time(utcnow())))
            return inserted_id(cur)

    def finish_step(self, step_id: int, outcome: str, evidence: Mapping[str, Any]) -> None:
        """Record what a step achieved, with the evidence read from the host."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._store.transaction() as db:
            n = db.execute("UPDATE steps SET outcome=?, evidence_json=?, finished_at=? "
                           "WHERE id=? AND outcome IS NULL",
                           (str(outcome), dump_json(evidence), format_time(utcnow()), step_id)).rowcount
            if n != 1:
                raise JournalError(f"step {step_id} does not exist or is already finished")

    def steps(self, run_id: int, host: str | None = None) -> list[StepRecord]:
        sql = ("SELECT id, run_id, host, step, attempt, intent_json, started_at, outcome, evidence_json, "
               "finished_at FROM steps WHERE run_id=?")
        args: tuple[Any, ...] = (run_id,)
        if host is not None:
            sql += " AND host=?"
            args += (host,)
        with self._store.reading() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [StepRecord(id=r[0], run_id=r[1], host=r[2], step=r[3], attempt=r[4], intent=json.loads(r[5]),
                           started_at=parse_time(r[6]), outcome=r[7],
                           evidence=None if r[8] is None else json.loads(r[8]),
                           finished_at=None if r[9] is None else parse_time(r[9])) for r in rows]

    def last_ok(self, run_id: int, host: str, step: str) -> StepRecord | None:
        """The latest successful record of ``step`` on ``host``, if any."""
        for rec in reversed(self.steps(run_id, host)):
            if rec.step == step and rec.outcome == StepOutcome.OK:
                return rec
        return None


def iter_in_flight(journal: Journal, run_id: int) -> Iterator[StepRecord]:
    """Steps whose outcome was never written (the console stopped mid-step)."""
    return (s for s in journal.steps(run_id) if s.in_flight)
