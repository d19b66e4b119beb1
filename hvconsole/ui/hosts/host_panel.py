"""The host side panel: the host list, and below it the graphs of the selected host.

Selecting a host narrows the tile grid to it (and shows its graphs); clicking the
selected host again, or "All hosts" in the filter bar, widens it back. Under the graphs,
one line says what monitoring costs the selected host (issue 17) and, when that is a lot,
offers "Raise to 9 s" (``raise_interval_requested``: the page confirms and applies it).
Double-clicking a host's Health cell asks for the health check of that host (``health_requested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAccessible, QPaintEvent, QRegion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from hvconsole.monitoring.rows import HostRow

from ..table_base import DISPLAY
from .host_model import (
    COL_BUILD,
    COL_COMPLIANCE,
    COL_FINDINGS,
    COL_HEALTH,
    COL_HOST,
    COL_POLL,
    COL_STATUS,
    COL_VMS,
    HostListModel,
    HostRowRole,
    alert_text,
)

CELL_PADDING = 12
# The widest text each fixed column usually shows (the host column also has an icon).
COLUMN_SAMPLES = {COL_HOST: "HV-NODE-01 ", COL_BUILD: "20348.3692",
                  COL_COMPLIANCE: "pending reboot (KB5061906)", COL_POLL: "1000 ms",
                  COL_VMS: "40/40", COL_FINDINGS: "1 crit, 1 warn", COL_HEALTH: "Health"}
# A repaint of more separate areas than this is done in one pass (see HostListView).
MAX_PAINT_AREAS = 64
# A new, gone or longer alert list waits this long (a frame: see HostPanel.update_alerts).
ALERTS_PAUSE_MS = 16
# The status column stretches but never below this (it also carries the certificate badge).
STATUS_SAMPLE = "patching: postcheck"


class HostListView(QTreeView):
    """The host list's tree view, repainting only the cells that changed.

    ``QTreeView`` paints only the columns inside the changed area when that area is one
    rectangle, but whole lines (all eight cells) when it is several: a tick of four hosts
    apart, each with a new Poll figure, painted 32 cells for 4. Each rectangle is painted
    on its own here. The selected (and current) line is painted whole, as before: its
    highlight spans the line, and a cell painted alone would shade it differently."""

    def paintEvent(self, event: QPaintEvent) -> None:
        region = event.region()
        count = region.rectCount()
        if count < 2 or count > MAX_PAINT_AREAS:
            super().paintEvent(event)
            return
        whole = self._highlighted_lines()
        rest = QRegion()
        for rect in cast("Iterable[QRect]", region):     # PySide6 iterates a QRegion; its stub does not say so
            if whole.intersects(rect):
                rest += rect
            else:
                super().paintEvent(QPaintEvent(rect))
        if not rest.isEmpty():
            width = self.viewport().width()
            lines = QRegion()
            for rect in cast("Iterable[QRect]", rest):
                lines += QRect(0, rect.top(), width, rect.height())
            super().paintEvent(QPaintEvent(lines))

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        """Changes of several lines are passed on line by line. For a range of lines Qt's
        ``QTreeView`` (6.x, ``QTreeViewPrivate::intersectedRect``) builds the area of every
        line after the first with its right and bottom edges taken for a width and a
        height: a tick's run of seven Poll cells repainted every cell to the right of and
        below them (64 cells for 7). For one line the area is exact."""
        first, last = top_left.row(), bottom_right.row()
        if (len(roles) == 1 and roles[0] == DISPLAY and self._update_texts(top_left, bottom_right)):
            return
        if first == last or not top_left.isValid():
            super().dataChanged(top_left, bottom_right, list(roles))
            return
        model, parent = top_left.model(), top_left.parent()
        left, right = top_left.column(), bottom_right.column()
        for row in range(first, last + 1):
            super().dataChanged(model.index(row, left, parent), model.index(row, right, parent), list(roles))

    def _update_texts(self, top_left: QModelIndex | QPersistentModelIndex,
                      bottom_right: QModelIndex | QPersistentModelIndex) -> bool:
        """Repaint a column's run of cells whose text alone changed (the model says so
        with the display role only): the area ``QTreeView`` would repaint for them, without
        its work for a change of look. That work (the line heights' cache, the first line's
        size hint from every cell of it, each line's place in the view) asks the model for
        its row and column counts and cells a few dozen times, each a call into Python; a
        new text in the same font and a line of uniform height changes none of it. False
        when the view cannot take this path (Qt then does the whole of it)."""
        if (not top_left.isValid() or top_left.column() != bottom_right.column()
                or not self.uniformRowHeights() or QAccessible.isActive()):
            return False
        rect = self.visualRect(top_left)
        if not rect.isValid():
            return False        # not laid out yet: Qt's own path knows what to do
        lines = bottom_right.row() - top_left.row() + 1
        self.viewport().update(QRect(rect.x(), rect.y(), rect.width(), rect.height() * lines))
        return True

    def _highlighted_lines(self) -> QRegion:
        """Where the selected and the current line are, as whole lines."""
        lines = QRegion()
        width = self.viewport().width()
        selection = self.selectionModel()
        indexes = list(selection.selectedRows()) if selection is not None else []
        current = self.currentIndex()
        if current.isValid():
            indexes.append(current)
        for index in indexes:
            rect = self.visualRect(index)
            if rect.isValid():
                lines += QRect(0, rect.top(), width, rect.height())
        return lines


class HostPanel(QWidget):
    """See the module docstring."""

    host_selected = Signal(object)  # host name, or None for "all hosts"
    health_requested = Signal(str)  # host name (its Health cell was double-clicked)
    raise_interval_requested = Signal(str, int)  # host name, the suggested interval in seconds

    def __init__(self, model: HostListModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("hostPanel")
        self.model = model
        title = QLabel("Hosts", self)
        title.setObjectName("panelTitle")

        self.view = HostListView(self)
        self.view.setObjectName("hostList")
        self.view.setModel(model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(False)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAllColumnsShowFocus(True)
        # Fixed widths from the font, not ResizeToContents: that mode re-measures every
        # cell of every row on each update (thousands of data() calls per tick).
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        fm = self.view.fontMetrics()
        icon = self.view.iconSize().width() if self.view.iconSize().isValid() else 16
        for col, sample in COLUMN_SAMPLES.items():
            extra = icon + 4 if col in (COL_HOST, COL_HEALTH) else 0
            header.resizeSection(col, fm.horizontalAdvance(sample) + extra + CELL_PADDING)
        # The stretching Status column gets at least room for "patching: postcheck" and the
        # certificate badge; the list never gets narrower than all columns together.
        self.status_min_width = fm.horizontalAdvance(STATUS_SAMPLE) + icon + 4 + CELL_PADDING
        self.view.setMinimumWidth(sum(header.sectionSize(c) for c in COLUMN_SAMPLES)
                                  + self.status_min_width + 4)

        # Hosts that need attention, with the whole error message (the list has no room).
        self.alerts = QLabel(self)
        self.alerts.setObjectName("hostAlerts")
        self.alerts.setTextFormat(Qt.TextFormat.PlainText)
        self.alerts.setWordWrap(True)
        self.alerts.hide()
        self._alerts_text = ""
        self._alerts_lines = 0
        self._alert_of: dict[str, str | None] | None = None   # host -> its alert line, once known
        self._alerts_timer = QTimer(self)
        self._alerts_timer.setSingleShot(True)
        self._alerts_timer.setInterval(ALERTS_PAUSE_MS)
        self._alerts_timer.timeout.connect(self._show_alerts)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.clicked.connect(self._clicked)
        self.view.doubleClicked.connect(self._double_clicked)
        self._last_clicked: str | None = None

        # Where the host graphs go (the graphs widget is built by the main window).
        self.graphs_frame = QFrame(self)
        self.graphs_frame.setObjectName("graphsFrame")
        self.graphs_layout = QVBoxLayout(self.graphs_frame)
        self.graphs_layout.setContentsMargins(0, 0, 0, 0)
        self.graphs_title = QLabel("Select a host to see its graphs", self.graphs_frame)
        self.graphs_title.setObjectName("graphsTitle")
        self.graphs_title.setTextFormat(Qt.TextFormat.PlainText)
        self.graphs_layout.addWidget(self.graphs_title)
        # Under the graphs (they are inserted above it): what polling costs the shown host,
        # and the action that takes the suggested longer interval.
        self.cost_row = QWidget(self.graphs_frame)
        cost_layout = QHBoxLayout(self.cost_row)
        cost_layout.setContentsMargins(0, 0, 0, 0)
        self.cost_line = QLabel(self.cost_row)
        self.cost_line.setObjectName("monitoringCost")
        self.cost_line.setTextFormat(Qt.TextFormat.PlainText)
        self.cost_line.setWordWrap(True)
        # The graphs above redraw every plot and axis (~25 ms) when this row's height
        # changes: it keeps two lines' height, shown or not (and the graphs hold still).
        policy = self.cost_line.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.cost_line.setSizePolicy(policy)
        self.cost_line.setFixedHeight(2 * self.cost_line.fontMetrics().lineSpacing())
        self.cost_line.hide()
        self.raise_button = QPushButton(self.cost_row)
        self.raise_button.setObjectName("raisePollInterval")
        self.raise_button.setFlat(True)
        self.raise_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.raise_button.hide()
        self.raise_button.clicked.connect(self._raise_clicked)
        self._raise_offer: tuple[str, int] | None = None
        # The host and its line the cost line shows now (none: hidden, as it starts).
        self._cost_shown: tuple[str | None, HostRow | None] = (None, None)
        cost_layout.addWidget(self.cost_line, 1)
        cost_layout.addWidget(self.raise_button, 0, Qt.AlignmentFlag.AlignTop)
        self.graphs_layout.addWidget(self.cost_row)

        list_box = QWidget(self)
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(4)
        list_layout.addWidget(title)
        list_layout.addWidget(self.view, 1)
        list_layout.addWidget(self.alerts)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(list_box)
        self.splitter.addWidget(self.graphs_frame)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def update_alerts(self, hosts: Iterable[str] | None = None) -> None:
        """Show one line per host that is unreachable or whose VM list fails. When that
        shows, hides or changes the number of lines, the list above resizes and repaints
        whole (~5 ms): that is done a frame later, not in the turn of the tick that said so.

        ``hosts``: the hosts whose lines may have changed (a tick's); None: any. A tick
        looks at its own few hosts' lines, not at every host's (cold in the caches by
        then, a tick's largest walk); the text is put together again only when one of
        theirs changed."""
        alert_of = self._alert_of
        if hosts is None or alert_of is None:
            self._alert_of = alert_of = {row.name: alert_text(row) for row in self.model.rows()}
        else:
            row_for, changed = self.model.row_for, False
            for host in hosts:
                row = row_for(host)
                line = None if row is None else alert_text(row)
                if host not in alert_of or alert_of[host] != line:
                    alert_of[host] = line
                    changed = True
            if not changed:
                return
        # In the list's order (it only ever grows at its end).
        lines = [line for line in (alert_of.get(row.name) for row in self.model.rows()) if line]
        text = "\n".join(lines)
        if text == self._alerts_text:
            return
        self._alerts_text = text
        if bool(lines) != (not self.alerts.isHidden()) or len(lines) != self._alerts_lines:
            self._alerts_timer.start()
        else:
            self._show_alerts()

    def _show_alerts(self) -> None:
        self._alerts_timer.stop()
        text = self._alerts_text
        self._alerts_lines = len(text.splitlines())
        self.alerts.setText(text)
        self.alerts.setVisible(bool(text))

    def show_cost(self, host: str | None) -> None:
        """The monitoring cost line for ``host`` (the one whose graphs are shown)."""
        row = None if host is None else self.model.row_for(host)
        # Asked after every tick: the same host's same line shows the same words (each
        # label and button call below is a call into Qt, a few a tick for nothing).
        if row is self._cost_shown[1] and host == self._cost_shown[0]:
            return
        self._cost_shown = (host, row)
        if row is None or row.monitoring_cost is None:
            self.cost_line.hide()
            self._offer(None)
            return
        text = f"{row.name}: {row.monitoring_cost}"
        if row.cost_suggestion:
            text += f" — {row.cost_suggestion}"
        # Muted, even with a suggestion: at the default 5 s interval most hosts get one,
        # and a line that is always coloured stops being read.
        self.cost_line.setText(text)
        self.cost_line.show()
        self._offer(None if row.suggested_interval_s is None else (row.name, row.suggested_interval_s))

    def _offer(self, offer: tuple[str, int] | None) -> None:
        """Show "Raise to N s" for (host, N), or hide it."""
        self._raise_offer = offer
        if offer is None:
            self.raise_button.hide()
            return
        self.raise_button.setText(f"Raise to {offer[1]} s")
        self.raise_button.setToolTip(f"Poll {offer[0]} every {offer[1]} s from now on (asks first)")
        self.raise_button.show()

    def _raise_clicked(self) -> None:
        if self._raise_offer is not None:
            self.raise_interval_requested.emit(*self._raise_offer)

    def selected_host(self) -> str | None:
        rows = self.view.selectionModel().selectedRows(COL_HOST)
        if not rows:
            return None
        row = rows[0].data(HostRowRole)
        return None if row is None else row.name

    def select_host(self, name: str | None) -> None:
        """Select ``name`` in the list (None clears the selection), without echoing."""
        self.view.selectionModel().blockSignals(True)
        try:
            self.view.clearSelection()
            if name is not None:
                for r in range(self.model.rowCount()):
                    index = self.model.index(r, COL_HOST)
                    if index.data(HostRowRole).name == name:
                        self.view.selectionModel().select(
                            index, self.view.selectionModel().SelectionFlag.ClearAndSelect
                            | self.view.selectionModel().SelectionFlag.Rows)
                        break
        finally:
            self.view.selectionModel().blockSignals(False)
        self.view.viewport().update()

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        self.host_selected.emit(self.selected_host())

    def _double_clicked(self, index: QModelIndex) -> None:
        # The release that ends a double-click is a click too: it must not count as a
        # second click on the selected host (which would clear the selection).
        self._last_clicked = None
        row = index.data(HostRowRole)
        if index.column() == COL_HEALTH and row is not None:
            self.health_requested.emit(row.name)

    def _clicked(self, index: QModelIndex) -> None:
        # A second click on the selected host goes back to all hosts.
        name = self.selected_host()
        if name is not None and name == self._last_clicked:
            self.view.clearSelection()
            self._last_clicked = None
        else:
            self._last_clicked = name
