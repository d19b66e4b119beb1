"""Patch ▸ Patch runs…: every run in the site's patch journal, newest first, whichever
process started it (this window, another window, ``hvconsole patch run`` in a terminal).
"Show" opens the run in the patch session's run view.

The journal is a local SQLite file, but it is still read on a background thread: another
process may hold its write lock for a moment, and the GUI thread never waits on that.
Host names and KBs come from the journal and are shown as plain text (item views).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hvconsole.monitoring.formatting import format_clock

from ..background import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunLine:
    run_id: int
    kb: str
    state: str
    created: datetime
    hosts: tuple[str, ...]
    reason: str = ""


def read_runs(journal_path: Path) -> list[RunLine]:
    """The journal's runs, newest first (on a worker thread). A missing journal is no runs."""
    if not journal_path.exists():
        return []
    from hvconsole.core.patch.journal import Journal
    journal = Journal(journal_path)
    try:
        lines = []
        for run in journal.runs():
            waves = run.plan.get("waves") if isinstance(run.plan, dict) else None
            hosts: list[str] = []
            for wave in waves if isinstance(waves, list) else []:
                for h in wave.get("hosts", []) if isinstance(wave, dict) else []:
                    if isinstance(h, str) and h not in hosts:
                        hosts.append(h)
            lines.append(RunLine(run.id, run.kb, str(run.state), run.created_at, tuple(hosts),
                                 str(getattr(run, "reason", "") or "")))
        return sorted(lines, key=lambda r: r.run_id, reverse=True)
    finally:
        journal.close()


class PatchRunsDialog(QDialog):
    """See the module docstring. ``show_run(run_id)`` opens one run."""

    def __init__(self, journal_path: Path, show_run: Callable[[int], Any] | None,
                 parent: QWidget | None = None, runner: Any = None):
        super().__init__(parent)
        self.setWindowTitle("Patch runs")
        self.resize(720, 360)
        self._path = journal_path
        self._show_run = show_run
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        self.status = QLabel("Reading the patch journal…", self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.view = QTreeWidget(self)
        self.view.setHeaderLabels(["Run", "Update", "State", "Created", "Hosts"])
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.itemDoubleClicked.connect(lambda *_: self._show())
        self.view.itemSelectionChanged.connect(self._sync)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.show_button = QPushButton("Show run", self)
        self.show_button.setEnabled(False)
        self.show_button.clicked.connect(self._show)
        buttons.addButton(self.show_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.lines: list[RunLine] = []
        self.refresh()

    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        path = self._path
        self._runner.submit(lambda: read_runs(path), self._loaded, self._failed)

    def _loaded(self, lines: list[RunLine]) -> None:
        self.refresh_button.setEnabled(True)
        self.lines = lines
        self.view.clear()
        for line in lines:
            item = QTreeWidgetItem([str(line.run_id), line.kb, line.state.replace("-", " "),
                                    format_clock(line.created), ", ".join(line.hosts)])
            item.setData(0, Qt.ItemDataRole.UserRole, line.run_id)
            if line.reason:
                item.setToolTip(2, line.reason)
            self.view.addTopLevelItem(item)
        for col in range(4):
            self.view.resizeColumnToContents(col)
        self.status.setText(f"{len(lines)} run{'s' if len(lines) != 1 else ''} in the patch journal"
                            if lines else "No patch runs yet: Patch ▸ Open patch wizard… starts one.")
        self._sync()

    def _failed(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        log.error("reading the patch journal failed", exc_info=exc)
        self.status.setText(f"The patch journal could not be read: {exc}")

    def selected_run(self) -> int | None:
        items = self.view.selectedItems()
        return None if not items else int(items[0].data(0, Qt.ItemDataRole.UserRole))

    def _sync(self) -> None:
        self.show_button.setEnabled(self._show_run is not None and self.selected_run() is not None)

    def _show(self) -> None:
        run_id = self.selected_run()
        if run_id is not None and self._show_run is not None:
            self._show_run(run_id)

    def done(self, result: int) -> None:
        if isinstance(self._runner, TaskRunner):
            import time
            self._runner.shutdown(time.monotonic() + 0.2)
        super().done(result)
