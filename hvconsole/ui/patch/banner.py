"""A one-line banner with action buttons, handed to the window's banner area: "Run 3 was
interrupted at HV01 · install — Resume / Review", or a run that another process executes.
Host names are plain text (the label never interprets markup)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget


class RunBanner(QFrame):
    hidden_by_admin = Signal()

    def __init__(self, text: str, actions: list[tuple[str, Callable[[], None]]],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("patchRunBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#patchRunBanner { background: #fff4ce; border: 1px solid #e0c36a; border-radius: 4px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for text_, fn in actions:
            b = QPushButton(text_)
            b.clicked.connect(fn)
            self.buttons[text_] = b
            layout.addWidget(b)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide this banner (the run stays in the journal)")
        close.setAutoRaise(True)
        close.clicked.connect(self._hide_pressed)
        layout.addWidget(close)
        self.dismissed = False
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def _hide_pressed(self) -> None:
        self.hidden_by_admin.emit()
        self.dismiss()

    def dismiss(self) -> None:
        self.dismissed = True
        self.hide()
        self.deleteLater()


class BannerBoard:
    """The session's banners, one per (kind, run id): handed to the window once, updated in
    place, removed when the run no longer needs one. One the admin hid stays hidden for the
    rest of the session (the run is still in the journal and in Patch → Runs)."""

    def __init__(self, add_banner: Callable[[RunBanner], None]):
        self._add = add_banner
        self.banners: dict[tuple[str, int], RunBanner] = {}
        self._hidden: set[tuple[str, int]] = set()

    def sync(self, kind: str, runs: list[Any], make: Callable[[Any], RunBanner], text: Callable[[Any], str]) -> None:
        wanted = {r.run_id: r for r in runs}
        for key in [k for k in self.banners if k[0] == kind and k[1] not in wanted]:
            self.drop(*key)
        for run_id, r in wanted.items():
            key = (kind, run_id)
            if key in self._hidden:
                continue
            banner = self.banners.get(key)
            if banner is None:
                banner = make(r)
                self.banners[key] = banner
                banner.hidden_by_admin.connect(lambda k=key: self._hidden.add(k))
                banner.destroyed.connect(lambda *_, k=key: self.banners.pop(k, None))
                self._add(banner)
            else:
                banner.set_text(text(r))

    def drop(self, kind: str, run_id: int) -> None:
        banner = self.banners.pop((kind, run_id), None)
        if banner is not None:
            banner.dismiss()
