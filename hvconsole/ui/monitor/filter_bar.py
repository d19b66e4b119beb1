"""The filter bar above the tile grid: search by name, host, state group and "problems
only", turned into a :class:`~hvconsole.ui.monitor.tile_filter.TileFilter`."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from hvconsole.monitoring.vmstate import STATE_GROUPS

from .tile_filter import TileFilter

ALL_HOSTS = "All hosts"
ALL_STATES = "All states"
# Typing in the search box re-filters after a short pause, not on every key.
SEARCH_DELAY_MS = 150


class FilterBar(QWidget):
    """Search by name, host, state group, and "problems only"."""

    filter_changed = Signal(object)  # TileFilter

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filterBar")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search VMs by name")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(200)
        self.host = QComboBox(self)
        self.host.addItem(ALL_HOSTS)
        self.host.setMinimumContentsLength(12)
        self.host.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.state = QComboBox(self)
        self.state.addItem(ALL_STATES)
        self.state.addItems(list(STATE_GROUPS))
        self.problems = QCheckBox("Problems only", self)
        self.problems.setToolTip("Show only VMs with a finding, and VMs whose host is not answering")
        self.count = QLabel(self)
        self.count.setObjectName("tileCount")
        self.count.setTextFormat(Qt.TextFormat.PlainText)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.host, 1)
        layout.addWidget(self.state, 1)
        layout.addWidget(self.problems)
        layout.addStretch(1)
        layout.addWidget(self.count)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.host.currentIndexChanged.connect(self._emit)
        self.state.currentIndexChanged.connect(self._emit)
        self.problems.toggled.connect(self._emit)

    def set_hosts(self, hosts: Iterable[str]) -> None:
        """Offer these hosts in the host box, keeping the current choice if still there."""
        current = self.host.currentText()
        wanted = [ALL_HOSTS, *hosts]
        if [self.host.itemText(i) for i in range(self.host.count())] == wanted:
            return
        self.host.blockSignals(True)
        self.host.clear()
        self.host.addItems(wanted)
        self.host.setCurrentIndex(max(0, self.host.findText(current, Qt.MatchFlag.MatchExactly)))
        self.host.blockSignals(False)

    def select_host(self, host: str | None) -> None:
        self.host.setCurrentIndex(max(0, self.host.findText(host or ALL_HOSTS, Qt.MatchFlag.MatchExactly)))

    def current_filter(self) -> TileFilter:
        host = self.host.currentText()
        state = self.state.currentText()
        return TileFilter(
            hosts=frozenset() if host == ALL_HOSTS or not host else frozenset({host}),
            groups=frozenset() if state == ALL_STATES else frozenset({state}),
            problems_only=self.problems.isChecked(),
            text=self.search.text(),
        )

    def set_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{shown} of {total} VMs" if shown != total else f"{total} VMs")

    def _emit(self) -> None:
        self._search_timer.stop()
        self.filter_changed.emit(self.current_filter())
