"""The findings panel: the findings table with an "Acknowledge" action, and "Recover…"
for a VM finding that a guided recovery can act on (a freeze, a VM stuck in a transition).

Double-clicking a finding asks the window to show that VM's tile (``show_vm``); Recover…
asks it to open the recovery of that VM (``recover``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hvconsole.monitoring.host_compliance import FREEZE_KINDS

from .findings_model import COL_EVIDENCE, FindingRole, FindingsModel

# VM findings the Recover… flow is for (issue 15): the VM froze, hangs, or is stuck in a
# transition. Host-level findings (vm_id None) have no VM to recover.
RECOVERABLE_KINDS = (FREEZE_KINDS - {"host-wide-failure"}) | {"stuck-transition"}
RECOVER_TIP = ("Guided recovery of this VM: evidence first, then the least harmful step that "
               "can work; every step journalled")


def recoverable(finding: object) -> bool:
    return (getattr(finding, "vm_id", None) is not None and bool(getattr(finding, "active", False))
            and getattr(finding, "kind", None) in RECOVERABLE_KINDS)


class FindingsPanel(QWidget):
    """See the module docstring."""

    show_vm = Signal(str, object)  # host, vm_id (None for a host finding)
    recover = Signal(object)       # the finding whose VM to recover

    def __init__(self, model: FindingsModel, parent: QWidget | None = None):
        super().__init__(parent)
        # Cell widths by what they depend on (FindingsModel.measure_key), and each shown
        # line's widths: see _fit_columns.
        self._widths: dict[tuple, int] = {}
        self._line_widths: dict[int, tuple[object, list[int]]] = {}
        self.setObjectName("findingsPanel")
        self.model = model
        self.view = QTableView(self)
        self.view.setObjectName("findingsTable")
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        # Columns fitted to their contents when the lines change (a finding appears,
        # changes, ends or is acknowledged), not in ResizeToContents mode: that mode
        # measured every cell of every line (Python, per role) whenever any cell changed,
        # i.e. on every tick that moved a "Last seen" (~5 ms for 30 lines).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_EVIDENCE, QHeaderView.ResizeMode.Stretch)
        self.view.doubleClicked.connect(self._activated)

        self.ack_button = QPushButton("Acknowledge", self)
        self.ack_button.setToolTip("Mark the selected findings as seen: no more alerts for them")
        self.ack_button.setEnabled(False)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        ack_action = QAction("Acknowledge", self.view)
        ack_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        ack_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        ack_action.triggered.connect(self.acknowledge_selected)
        self.view.addAction(ack_action)
        self.recover_action = QAction("&Recover…", self.view)
        self.recover_action.setToolTip(RECOVER_TIP)
        self.recover_action.setEnabled(False)
        self.recover_action.triggered.connect(self.recover_selected)
        self.view.addAction(self.recover_action)
        self.recover_button = QPushButton("Recover…", self)
        self.recover_button.setObjectName("recoverButton")
        self.recover_button.setToolTip(RECOVER_TIP)
        self.recover_button.setEnabled(False)
        self.recover_button.clicked.connect(self.recover_selected)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.summary = QLabel(self)
        self.summary.setObjectName("findingsSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)

        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.recover_button)
        bar.addWidget(self.ack_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)

        self.view.selectionModel().selectionChanged.connect(self._update_button)
        model.modelReset.connect(self._update_button)
        model.counts_changed.connect(self._update_summary)
        model.counts_changed.connect(self._fit_columns)
        self._update_summary()
        self._fit_columns()

    def acknowledge_selected(self) -> int:
        keys = [self.model.line(i.row()).key for i in self.view.selectionModel().selectedRows()]
        return self.model.acknowledge(keys)

    def selected_recoverable(self) -> object | None:
        """The one selected finding, when Recover… can act on it."""
        rows = self.view.selectionModel().selectedRows()
        if len(rows) != 1:
            return None
        finding = self.model.line(rows[0].row()).finding
        return finding if recoverable(finding) else None

    def recover_selected(self) -> None:
        finding = self.selected_recoverable()
        if finding is not None:
            self.recover.emit(finding)

    def _update_button(self, *args: object) -> None:
        rows = self.view.selectionModel().selectedRows()
        self.ack_button.setEnabled(any(not self.model.line(i.row()).acknowledged for i in rows))
        can_recover = self.selected_recoverable() is not None
        self.recover_button.setEnabled(can_recover)
        self.recover_action.setEnabled(can_recover)

    def _update_summary(self) -> None:
        active = self.model.active()
        critical = sum(1 for f in active if f.severity == "critical")
        warning = len(active) - critical
        if not active:
            self.summary.setText("No active findings")
        else:
            self.summary.setText(f"{critical} critical, {warning} warning active")
        self._update_button()

    def _fit_columns(self) -> None:
        """Each column as wide as its widest cell (or its title), as ResizeToContents and
        ``resizeColumnToContents`` make it; Evidence takes the rest.

        Each different cell (text, font, icon) is measured once, by the view's own
        ``sizeHintForIndex`` (what ``resizeColumnToContents`` asks of every cell of every
        line, ~2-3 ms for 30 lines whenever one finding changed); what a line measured is
        kept with the line."""
        model, view = self.model, self.view
        header = view.horizontalHeader()
        columns = [col for col in range(model.columnCount()) if col != COL_EVIDENCE]
        widest = dict.fromkeys(columns, 0)
        lines: dict[int, tuple[object, list[int]]] = {}
        for row in range(model.rowCount()):
            line = model.line(row)
            known = self._line_widths.get(id(line))
            if known is None or known[0] is not line:
                known = (line, [self._cell_width(row, col) for col in columns])
            lines[id(line)] = known
            for col, width in zip(columns, known[1], strict=True):
                if width > widest[col]:
                    widest[col] = width
        self._line_widths = lines
        grid = 1 if view.showGrid() else 0
        for col in columns:
            width = max(widest[col] + grid, header.sectionSizeHint(col))
            if header.sectionSize(col) != width:
                header.resizeSection(col, width)

    def _cell_width(self, row: int, col: int) -> int:
        key = self.model.measure_key(row, col)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self.view.sizeHintForIndex(self.model.index(row, col)).width()
        return width

    def changeEvent(self, event: QEvent) -> None:
        # Another font or style measures every cell anew.
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._widths.clear()
            self._line_widths.clear()
            if hasattr(self, "view"):      # not while __init__ builds it
                self._fit_columns()
        super().changeEvent(event)

    def _activated(self, index: QModelIndex) -> None:
        line = index.data(FindingRole)
        if line is not None:
            self.show_vm.emit(line.finding.host, line.finding.vm_id)
