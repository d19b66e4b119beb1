"""A one-line banner with action buttons, handed to the window's banner area: "Run 3 was
interrupted at HV01 · install — Resume / Review", or a run that another process executes.
Host names are plain text (the label never interprets markup)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton


class RunBanner(QFrame):
    def __init__(self, text: str, actions: list[tuple[str, Callable[[], None]]], parent=None):
        super().__init__(parent)
        self.setObjectName("patchRunBanner")
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet("#patchRunBanner { background: #fff4ce; border: 1px solid #e0c36a; border-radius: 4px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setTextFormat(Qt.PlainText)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for text_, fn in actions:
            b = QPushButton(text_)
            b.clicked.connect(fn)
            self.buttons[text_] = b
            layout.addWidget(b)
        close = QToolButton(text="✕", toolTip="Hide this banner (the run stays in the journal)")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self.dismissed = False
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def dismiss(self) -> None:
        self.dismissed = True
        self.hide()
        self.deleteLater()
