"""Page 1, *Update*: the catalog's entries with the hosts needing each (a survey of every
host, off the GUI thread), and a custom entry for a KB the catalog does not know yet."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QPushButton, QVBoxLayout

from hvconsole.core.compliance import assess

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WizardPageBase, cell, make_table
from .services import load_site_catalog


class UpdatePage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Update", "Choose the update to roll out. Every host was asked what it runs; the "
                         "count says how many still need each update.", parent)
        self.table = make_table(["KB", "Kind", "Released", "Hosts needing it", "Targets", "Title"], stretch=5)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selected)
        self.refresh_button = QPushButton("Ask the hosts again")
        self.refresh_button.clicked.connect(self._survey)
        self.custom_button = QPushButton("Custom catalog entry…")
        self.custom_button.clicked.connect(self._custom)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.custom_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._kbs: list[str] = []

    def initializePage(self) -> None:
        if self.state.snaps:
            self._fill()
        else:
            self._survey()

    def _survey(self) -> None:
        self.say("Asking every host which build it runs…")
        self.refresh_button.setEnabled(False)
        planning = self.wiz.planning
        self.run_off_thread(lambda cancel: planning.survey(cancel=cancel), self._surveyed, "the survey")

    def _surveyed(self, snaps: dict) -> None:
        self.refresh_button.setEnabled(True)
        self.state.snaps = dict(snaps)
        self._fill()

    def _fill(self) -> None:
        state = self.state
        unreachable = [h for h, s in state.snaps.items() if not s.reachable]
        self._kbs = []
        self.table.setRowCount(0)
        for update in state.catalog.updates:
            rows = [assess(h, s, update) for h, s in state.snaps.items()]
            needing = [c.host for c in rows if c.needs_action]
            applicable = [c for c in rows if c.status != "not-applicable"]
            if not applicable and update.kb != state.draft.kb:
                continue        # targets no build this site runs
            r = self.table.rowCount()
            self.table.insertRow(r)
            self._kbs.append(update.kb)
            why = "\n".join(f"{c.host}: {c.status} ({c.reason})" for c in rows)
            self.table.setItem(r, 0, cell(update.kb, why))
            self.table.setItem(r, 1, cell(update.kind))
            self.table.setItem(r, 2, cell(update.released.isoformat()))
            needs = f"{len(needing)}: {', '.join(needing)}" if needing else "none (all compliant)"
            self.table.setItem(r, 3, cell(needs, why, OK_COLOR if not needing else BAD_COLOR))
            self.table.setItem(r, 4, cell(", ".join(f"{t.product} {t.version}" for t in update.targets)))
            self.table.setItem(r, 5, cell(update.title, update.title))
        if state.draft.kb in self._kbs:
            self.table.selectRow(self._kbs.index(state.draft.kb))
        text = f"{len(state.snaps)} host(s) answered the survey"
        if unreachable:
            text += f"; not answering: {', '.join(unreachable)} (their compliance is unknown)"
        if state.catalog.problems:
            text += f"; {len(state.catalog.problems)} catalog entr(ies) skipped: " + "; ".join(
                str(p) for p in state.catalog.problems[:3])
        self.say(text, MUTED_COLOR)

    def _selected(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        kb = self._kbs[rows.pop()] if rows else None
        if kb != self.state.draft.kb:
            self.state.draft.kb = kb
            update = self.state.catalog.get(kb) if kb else None
            self.state.draft.sha256 = None
            self.state.draft.package_location = None
            self.state.invalidate_from("package")
            if update is not None:
                self.state.draft.pilot, self.state.draft.waves = [], []
        self.completeChanged.emit()

    def select_kb(self, kb: str) -> bool:
        """Select ``kb`` (the window's "Fix available" banner opens the wizard on it)."""
        if kb in self._kbs:
            self.table.selectRow(self._kbs.index(kb))
            return True
        self.state.draft.kb = kb
        return False

    def _custom(self) -> None:
        from hvconsole import paths

        from .custom_entry import CustomEntryDialog
        dialog = CustomEntryDialog(paths.config_dir() / "catalog.d", self)
        if dialog.exec() and dialog.saved_kb:
            self.state.catalog = load_site_catalog()
            self.wiz.planning.catalog = self.state.catalog
            self.state.draft.kb = dialog.saved_kb
            self._fill()

    def isComplete(self) -> bool:
        return bool(self.state.draft.kb) and bool(self.state.snaps) and not self.busy
