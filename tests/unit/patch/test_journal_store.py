"""The SQLite file behind both journals (``core.sqlite_store``): how it is opened, the
schema version it keeps, its transactions, and the two journals built on it."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading

import pytest

from hvconsole.core.patch.journal import Journal, JournalError
from hvconsole.core.recovery.journal import RecoveryJournal, RecoveryJournalError
from hvconsole.core.recovery.rules import STEPS
from hvconsole.core.sqlite_store import SqliteStore, StoreOpenError, dump_json, inserted_id

SCHEMA = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL);"
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def test_a_new_file_is_opened_in_wal_with_full_sync_and_stamped_with_its_version(tmp_path):
    store = SqliteStore(tmp_path / "deep" / "j.sqlite", SCHEMA, "3", what="the test journal")
    try:
        with store.reading() as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 2           # FULL
            assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "3"
    finally:
        store.close()


@posix_only
def test_the_folder_is_0700_and_the_file_0600(tmp_path):
    path = tmp_path / "data" / "j.sqlite"
    SqliteStore(path, SCHEMA, "1", what="the test journal").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@posix_only
def test_an_existing_file_of_ours_left_readable_by_others_is_tightened(tmp_path):
    path = tmp_path / "j.sqlite"
    SqliteStore(path, SCHEMA, "1", what="the test journal").close()
    path.chmod(0o644)
    SqliteStore(path, SCHEMA, "1", what="the test journal").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_newer_schema_is_refused_and_the_file_left_as_it_was(tmp_path):
    path = tmp_path / "j.sqlite"
    SqliteStore(path, SCHEMA, "2", what="the test journal").close()
    with pytest.raises(StoreOpenError, match="has journal schema 2, this version reads 1"):
        SqliteStore(path, SCHEMA, "1", what="the test journal")
    SqliteStore(path, SCHEMA, "2", what="the test journal").close()      # still the newer one's


def test_a_file_that_is_not_sqlite_is_one_readable_error(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(StoreOpenError, match=r"^the test journal j\.sqlite cannot be opened: "):
        SqliteStore(path, SCHEMA, "1", what="the test journal")


def test_a_transaction_commits_whole_or_not_at_all(tmp_path):
    store = SqliteStore(tmp_path / "j.sqlite", SCHEMA, "1", what="the test journal")
    try:
        with store.transaction() as db:
            first = inserted_id(db.execute("INSERT INTO items(text) VALUES ('kept')"))
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.execute("INSERT INTO items(text) VALUES ('rolled back')")
            raise RuntimeError("the step failed between its two writes")
        with store.reading() as db:
            assert db.execute("SELECT id, text FROM items").fetchall() == [(first, "kept")]
        with store.transaction() as db:          # the lock was released by the failed one
            db.execute("INSERT INTO items(text) VALUES ('after')")
    finally:
        store.close()


def test_a_second_connection_sees_committed_rows_while_the_first_stays_open(tmp_path):
    """WAL: another process (here another connection) reads what one process committed."""
    path = tmp_path / "j.sqlite"
    store = SqliteStore(path, SCHEMA, "1", what="the test journal")
    try:
        with store.transaction() as db:
            db.execute("INSERT INTO items(text) VALUES ('intent')")
        other = sqlite3.connect(str(path))
        try:
            assert other.execute("SELECT text FROM items").fetchall() == [("intent",)]
        finally:
            other.close()
    finally:
        store.close()


def test_threads_of_one_process_share_the_connection(tmp_path):
    store = SqliteStore(tmp_path / "j.sqlite", SCHEMA, "1", what="the test journal")

    def write(n: int) -> None:
        for i in range(20):
            with store.transaction() as db:
                db.execute("INSERT INTO items(text) VALUES (?)", (f"{n}-{i}",))

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with store.reading() as db:
            assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 80
    finally:
        store.close()


def test_json_columns_are_sorted_and_say_what_json_cannot_as_text(tmp_path):
    assert dump_json({"b": 1, "a": tmp_path / "x"}) == '{"a": "' + str(tmp_path / "x") + '", "b": 1}'


# -- the two journals on it ------------------------------------------------------------

def test_the_patch_journal_reports_a_damaged_file_as_a_journal_error(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"garbage " * 200)
    with pytest.raises(JournalError, match=r"the patch journal journal\.sqlite cannot be opened"):
        Journal(path)


def test_the_patch_journal_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "journal.sqlite"
    SqliteStore(path, "", "2", what="a newer console's journal").close()
    with pytest.raises(JournalError, match="has journal schema 2, this version reads 1"):
        Journal(path)


def test_the_recovery_journal_keeps_a_schema_version_and_refuses_a_newer_one(tmp_path):
    path = tmp_path / "recovery-journal.sqlite"
    journal = RecoveryJournal(path)
    journal.close()
    with sqlite3.connect(str(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "1"
        db.execute("UPDATE meta SET value='2' WHERE key='schema'")
    with pytest.raises(RecoveryJournalError, match="has journal schema 2, this version reads 1"):
        RecoveryJournal(path)


def test_a_recovery_journal_of_an_earlier_version_without_a_version_is_stamped(tmp_path):
    """Recovery journals written before the shared store kept no ``meta`` table."""
    path = tmp_path / "recovery-journal.sqlite"
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, "
                   "host TEXT NOT NULL, vm_id TEXT NOT NULL, vm_name TEXT, who TEXT NOT NULL, finding_json TEXT, "
                   "state TEXT NOT NULL, closed_at TEXT, summary TEXT NOT NULL DEFAULT '')")
        db.execute("INSERT INTO incidents(created_at, host, vm_id, who, state) "
                   "VALUES ('2026-01-02T03:04:05Z', 'HV01', 'abc', 'admin', 'open')")
    db.close()
    journal = RecoveryJournal(path)
    try:
        assert [i.host for i in journal.incidents()] == ["HV01"]
    finally:
        journal.close()
    with sqlite3.connect(str(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "1"
    db.close()


def test_a_recovery_step_belongs_to_an_incident(tmp_path):
    journal = RecoveryJournal(tmp_path / "recovery-journal.sqlite")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            journal.begin(999, STEPS[0], {"why": "no such incident"})
    finally:
        journal.close()
