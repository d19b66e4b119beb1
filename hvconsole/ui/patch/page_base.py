"""What every wizard page shares: its wizard's state and services, background work that
never runs on the GUI thread, and a one-line status under the page's content."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QWizardPage

from .services import PlanError

OK_COLOR, WARN_COLOR, BAD_COLOR, MUTED_COLOR = "#1f7a3a", "#9a6700", "#b00020", "#5f6b7a"


class WizardPageBase(QWizardPage):
    def __init__(self, title: str, subtitle: str, parent: Any = None):
        super().__init__(parent)
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)       # messages quote host-provided text
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._busy = 0

    # The PatchWizard (``wizard()`` is only set once the page is added).
    @property
    def wiz(self) -> Any:
        return self.wizard()

    @property
    def state(self) -> Any:
        return self.wiz.state

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def run_off_thread(self, fn: Callable[[threading.Event], Any], on_result: Callable[[Any], None],
                       what: str) -> None:
        """``fn(cancel)`` on a pool thread; ``on_result`` (or an error line) back here."""
        if self.wiz.cancel_event.is_set():
            return              # the wizard is closing
        self._busy += 1
        self.completeChanged.emit()
        cancel = self.wiz.cancel_event

        def done(value: Any) -> None:
            self._busy -= 1
            on_result(value)
            self.completeChanged.emit()

        def error(exc: BaseException) -> None:
            self._busy -= 1
            self.say(f"{what} failed: {exc}", BAD_COLOR)
            self.completeChanged.emit()

        self.wiz.tasks.submit(lambda: fn(cancel), done, error)

    def plan_or_say(self) -> Any:
        """The plan the choices so far make, or None after saying on the page why not."""
        try:
            return self.state.build()
        except PlanError as exc:
            self.say(str(exc), BAD_COLOR)
            return None

    def say(self, text: str, color: str = MUTED_COLOR) -> None:
        self.status.setStyleSheet(f"color: {color};")
        self.status.setText(text)


def make_table(headers: list[str], stretch: int | None = None) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def cell(text: Any, tooltip: str | None = None, color: str | None = None) -> QTableWidgetItem:
    """A read-only cell; host-provided text is set as plain text (never rich text)."""
    item = QTableWidgetItem("—" if text is None else str(text))
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if tooltip:
        item.setToolTip(tooltip)
    if color:
        from PySide6.QtGui import QBrush, QColor
        item.setForeground(QBrush(QColor(color)))
    return item
