"""The history database: one SQLite file in WAL mode, its tables and its tiers.

Tables:

* ``series``: one row per host (``kind='host'``, ``key`` = host name casefolded) and per VM
  (``kind='vm'``, ``key`` = the VM's id, lowercase; a VM keeps its series when it migrates:
  ``host`` is the host of its newest sample).
* ``chunks``: the samples, one BLOB per (series, tier, chunk start) (see :mod:`.codec`).
  Chunks make a week of one host 168 rows instead of 120,960, which is what keeps both
  the file and "open 7 days" small.
* ``annotations``: findings (opened, changed, ended), VM state and heartbeat changes, and
  patch and recovery events, drawn as markers on the graphs.

WAL with ``synchronous=NORMAL``: a killed process loses nothing that was committed, a
power cut may lose the last transactions but never the file (https://sqlite.org/wal.html,
https://sqlite.org/pragma.html#pragma_synchronous).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
FILE_NAME = "history.sqlite"


@dataclass(frozen=True, slots=True)
class Tier:
    id: int
    name: str
    step_s: int          # 0 for raw (irregular poll times)
    chunk_s: int         # one BLOB covers this much time
    keep_s: int          # retention

    @property
    def slots(self) -> int:
        return self.chunk_s // self.step_s if self.step_s else 0


HOUR, DAY = 3600, 86400
RAW = Tier(0, "full resolution", 0, 300, HOUR)
MINUTE = Tier(1, "1-minute", 60, HOUR, 7 * DAY)
QUARTER = Tier(2, "15-minute", 900, DAY, 90 * DAY)
TIERS = (RAW, MINUTE, QUARTER)

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- 'host' or 'vm'
    key TEXT NOT NULL,             -- host name casefolded, or VM id lowercase
    host TEXT NOT NULL,            -- the host (of the VM's newest sample)
    name TEXT NOT NULL,            -- host name or VM name as last seen
    last_seen REAL NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX IF NOT EXISTS series_host ON series (host COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS chunks (
    series_id INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    start INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series_id, tier, start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunks_age ON chunks (tier, start);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    host TEXT NOT NULL,
    vm_id TEXT,                    -- NULL: about the host
    category TEXT NOT NULL,        -- finding, state, patch, recovery
    kind TEXT NOT NULL,
    severity TEXT,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_host_t ON annotations (host COLLATE NOCASE, t);
CREATE INDEX IF NOT EXISTS annotations_t ON annotations (t);
"""


class HistoryDbError(Exception):
    """The history file cannot be opened or is not a history file (one sentence)."""


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (callers use explicit BEGIN/COMMIT), WAL, with a
    busy timeout so that the window's writer and an export never fail on each other."""
    path = Path(path)
    if not create and not path.exists():
        raise HistoryDbError(f"no history file at {path}")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                               timeout=10.0)
        conn.execute("PRAGMA busy_timeout = 10000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise HistoryDbError(f"{path}: the history file cannot use WAL mode ({mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        # The WAL shrinks back to this after a checkpoint instead of keeping its peak size.
        conn.execute("PRAGMA journal_size_limit = 16777216")
        version = _version(conn)
        if version is None:
            conn.executescript("BEGIN;" + _DDL + "COMMIT;")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif version != SCHEMA_VERSION:
            raise HistoryDbError(f"{path}: history schema {version}, this version reads {SCHEMA_VERSION}")
        return conn
    except sqlite3.DatabaseError as exc:
        raise HistoryDbError(f"{path}: not a readable history file ({exc})") from None


def _version(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return None
    got = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    return None if got is None else int(got[0])


def disk_bytes(path: Path) -> int:
    """The file plus its WAL and shared-memory index: what the history costs on disk."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total
