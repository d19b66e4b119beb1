"""The events view: Hyper-V and cluster events from all hosts, filterable by level,
host and VM."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .events_model import COL_MESSAGE, LEVEL_CHOICES, EventsFilterProxy, EventsModel

ALL_HOSTS = "All hosts"


class EventsPanel(QWidget):
    """See the module docstring."""

    def __init__(self, model: EventsModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("eventsPanel")
        self.model = model
        self.proxy = EventsFilterProxy(model, self)
        self.level = QComboBox(self)
        self.level.addItems(list(LEVEL_CHOICES))
        self.host = QComboBox(self)
        self.host.addItem(ALL_HOSTS)
        self.host.setMinimumContentsLength(12)
        self.vm = QLineEdit(self)
        self.vm.setPlaceholderText("VM name or id")
        self.vm.setClearButtonEnabled(True)

        self.view = QTableView(self)
        self.view.setObjectName("eventsTable")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((80, 110, 90, 140, 150, 60)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)

        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addWidget(self.host)
        bar.addWidget(self.vm, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)

        self.level.currentTextChanged.connect(
            lambda text: self.proxy.set_criteria(levels=LEVEL_CHOICES.get(text, frozenset())))
        self.host.currentTextChanged.connect(
            lambda text: self.proxy.set_criteria(host="" if text == ALL_HOSTS else text))
        self.vm.textChanged.connect(lambda text: self.proxy.set_criteria(vm=text))

    def set_hosts(self, hosts: Iterable[str]) -> None:
        wanted = [ALL_HOSTS, *hosts]
        if [self.host.itemText(i) for i in range(self.host.count())] == wanted:
            return
        current = self.host.currentText()
        self.host.blockSignals(True)
        self.host.clear()
        self.host.addItems(wanted)
        self.host.setCurrentIndex(max(0, self.host.findText(current, Qt.MatchFlag.MatchExactly)))
        self.host.blockSignals(False)
