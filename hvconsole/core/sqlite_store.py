"""The SQLite file behind a journal (the patch journal, the recovery journal), opened one
way for all of them.

A journal writes a step's intent before the step runs and its outcome after, and other
processes read it while one writes (a second window, ``hvconsole patch status``). So:

- WAL: readers in other processes do not block the writer, nor the writer them;
- ``synchronous=FULL``: a row the journal reported written survives a kill and a power cut;
- a busy timeout: a second process writing at the same moment waits instead of failing;
- foreign keys enforced: a step row always belongs to its run or incident;
- a ``meta`` table with the schema version, checked on open, so an older console never
  misreads a newer journal;
- one connection shared by the threads of one process under one lock, and every write in
  ``BEGIN IMMEDIATE … COMMIT`` (:meth:`SqliteStore.transaction`);
- the folder 0700 and the file 0600 (POSIX): a journal names hosts, VMs and paths that are
  nobody else's business on a shared machine.

The history store (``historydb``) has its own, different needs (``synchronous=NORMAL``,
a writer thread) and does not use this.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# How long a write waits for another process's write to finish before it fails.
BUSY_TIMEOUT_S = 10.0
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class StoreOpenError(RuntimeError):
    """The file cannot be opened as this journal (not SQLite, damaged, or a newer schema)."""


class SqliteStore:
    """One journal file: its connection, its lock and its transactions."""

    def __init__(self, path: Path, schema: str, version: str, *, what: str):
        """Open (or create) ``path`` with ``schema`` (``CREATE … IF NOT EXISTS`` statements)
        at schema ``version``. ``what`` names the journal in errors ("the patch journal")."""
        self.path = Path(path)
        private_file(self.path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreOpenError(f"{what} {self.path.name} cannot be opened: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_META + schema)
            found = self._schema_version(version)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreOpenError(f"{what} {self.path.name} cannot be opened: {exc}") from None
        if found != version:
            self._db.close()
            raise StoreOpenError(f"{self.path} has journal schema {found}, this version reads {version}")

    def _schema_version(self, version: str) -> str:
        """The file's schema version; a new file (or one of a version that kept none) is
        stamped with ``version``."""
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (version,))
            return version
        return str(row[0])

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, for reads (each statement sees committed rows)."""
        with self._lock:
            yield self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE … COMMIT`` under the lock; rolled back if the block raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The row id of the INSERT just run (sqlite3 sets it after every INSERT)."""
    if cur.lastrowid is None:
        raise sqlite3.DatabaseError("the INSERT reported no row id")
    return cur.lastrowid


def dump_json(value: Mapping[str, Any]) -> str:
    """A JSON column's text: keys sorted (rows compare and diff cleanly), anything JSON
    cannot say (a datetime, a path) written as its ``str``."""
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=str)


def private_file(path: Path) -> None:
    """Create the journal's folder 0700 and the file 0600 before SQLite opens it (SQLite
    gives its -wal and -shm files the database file's permissions). An existing file of
    ours is tightened too: journals of earlier versions were 0644."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if os.name == "nt":  # pragma: no cover - the profile folder's ACL protects it on Windows
        return
    # Never open (and close) a descriptor on an existing journal: closing any descriptor of
    # a file drops every POSIX lock this process holds on it, also SQLite's own of another
    # connection to the same journal (sqlite.org/howtocorrupt.html §2.2).
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        path.chmod(0o600)


def private_dir(folder: Path) -> None:
    """Make ``folder`` (the data folder) exist and be 0700 when it is ours (POSIX)."""
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    if os.name != "nt" and folder.stat().st_uid == os.getuid():
        folder.chmod(0o700)
