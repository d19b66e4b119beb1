"""The patch journal and who executes a run, without the engine.

``hvconsole patch status|pause|cancel|promote|halt|report`` (and ``resume`` of a run another
process executes) only read the journal, write a request into it and probe the run lock.
Each is a short-lived process: importing the engine would bring the WinRM client with it
(0.2-0.4 s before the command does anything), so they import this module instead. It imports
only the journal and the run lock (``control``), never ``remote``.
"""

from __future__ import annotations

from pathlib import Path

from hvconsole import paths
from hvconsole.core.patch.journal import Journal
from hvconsole.core.sqlite_store import private_dir

from .control import executing_pid


def journal_path() -> Path:
    """``<data dir>/patch-journal.sqlite`` (``HVCONSOLE_HOME`` moves it, see ``paths``)."""
    return paths.patch_journal_path(demo=False)


def open_journal(path: Path | None = None) -> Journal:
    """The journal at ``path`` (default: the real one). A journal under the data folder
    makes that folder 0700 first (earlier versions left it 0755)."""
    path = path or journal_path()
    data = paths.data_dir()
    if path.parent == data or data in path.parents:
        private_dir(data)
    return Journal(path)


def is_being_executed(journal: Journal, run_id: int) -> int | None:
    """The pid of the process executing ``run_id`` (-1 when it cannot be read), or None
    when nobody is."""
    return executing_pid(journal, run_id)
