"""The graphs' time-range toggle ("5 min | 1 h | 1 day | 7 days | 90 days") and the header
row that carries it: the host graphs and the VM window."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from .stored_history import LONG_WINDOW_CHOICES

# 5 min and 1 h come from the in-memory history; 1 day, 7 days and 90 days from the
# history file (stored_history.py), when the window's site has one.
WINDOW_CHOICES: tuple[tuple[str, int], ...] = (("5 min", 300), ("1 h", 3600), *LONG_WINDOW_CHOICES)


def title_and_toggle(owner: QWidget, title: QWidget, window_s: int,
                     on_change: Any) -> tuple[QHBoxLayout, WindowToggle]:
    """A row with ``title`` on the left and the time-range toggle (set to ``window_s``,
    calling ``on_change(seconds)`` on a click) on the right: the host graphs, a VM window."""
    toggle = WindowToggle(owner)
    toggle.set_checked(window_s)
    toggle.window_changed.connect(on_change)
    row = QHBoxLayout()
    row.addWidget(title, 1)
    row.addWidget(toggle)
    return row, toggle


class WindowToggle(QWidget):
    """Exclusive "5 min | 1 h | 1 day | 7 days | 90 days" buttons. Emits
    ``window_changed(seconds)`` on a click."""

    window_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self.buttons: dict[int, QToolButton] = {}
        for text, seconds in WINDOW_CHOICES:
            b = QToolButton(self)
            b.setText(text)
            b.setCheckable(True)
            b.setToolTip(f"Show the last {text}")
            self._group.addButton(b, seconds)
            box.addWidget(b)
            self.buttons[seconds] = b
        self._group.idClicked.connect(self.window_changed)

    def show_window(self, seconds: int) -> int:
        """A window chosen in code or by a click, checked here; returns it in whole seconds."""
        if seconds <= 0:
            raise ValueError("window must be positive")
        self.set_checked(int(seconds))
        return int(seconds)

    def set_checked(self, seconds: int) -> None:
        """Reflect a window set in code; a window with no button unchecks all."""
        b = self.buttons.get(seconds)
        if b is not None:
            b.setChecked(True)
        else:
            self._group.setExclusive(False)
            for btn in self.buttons.values():
                btn.setChecked(False)
            self._group.setExclusive(True)
