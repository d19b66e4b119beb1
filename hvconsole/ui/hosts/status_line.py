"""The host graphs' status line ("Last poll 10:02:35 · 32 logical processors", or why the
host is unreachable): plain text, wrapped, red and bold when alarming.

It changes with every poll of the graphed host, and a ``QLabel.setText`` re-lays the pane
each time (``updateGeometry``; a wrapped label's height-for-width is worked out again up
the layouts): about 0.9 ms of the graphs' turn at 2,000 VMs. This line asks for a new
layout only when its size would change (a new text of the same lines, the usual case,
is only repainted). Its sizes are a hidden ``QLabel``'s with the same text, so the pane
is laid out exactly as it was with a label; a new poll time in a font whose digits are all
as wide ("Last poll 10:02:35" after "Last poll 10:02:30") cannot change them and is not
measured again. The line paints its own background, so that a new text repaints this
line only, not the window's, the page's and the panes' backgrounds under it.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

FLAGS = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
DIGIT = re.compile(r"[0-9]")


class StatusLine(QWidget):
    """Word-wrapped plain text that re-lays its parent only when its size changes."""

    def __init__(self, alarm_colour: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._text = ""
        self._alarming = False
        self._plain_font = QFont(self.font())
        self._alarm_font = QFont(self.font())
        self._alarm_font.setBold(True)
        self._alarm_colour = QColor(alarm_colour)
        # Measures like the label this replaces; never shown, so its setText lays out nothing.
        self._measure = QLabel()
        self._measure.setTextFormat(Qt.TextFormat.PlainText)
        self._measure.setWordWrap(True)
        self._measure.setFont(self._plain_font)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._laid_out = self._sizes()      # the sizes the layout last asked for
        self._shape = ("", False)           # the measured text with its digits as "0"
        self._even_digits = tuple(
            len({QFontMetricsF(font).horizontalAdvance(d) for d in "0123456789"}) == 1
            for font in (self._plain_font, self._alarm_font))
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def text(self) -> str:
        return self._text

    @property
    def alarming(self) -> bool:
        return self._alarming

    def set_text(self, text: str, *, alarming: bool) -> None:
        if text == self._text and alarming == self._alarming:
            return
        self._text, self._alarming = text, alarming
        shape = (DIGIT.sub("0", text), alarming)
        if shape == self._shape and self._even_digits[alarming]:
            self.update()        # same words, same widths: same sizes
            return
        self._shape = shape
        self._measure.setFont(self._alarm_font if alarming else self._plain_font)
        self._measure.setText(text)
        sizes = self._sizes()
        if sizes != self._laid_out:
            self._laid_out = sizes
            self.updateGeometry()
        self.update()

    def _sizes(self) -> tuple[Any, ...]:
        m = self._measure
        return m.sizeHint(), m.minimumSizeHint(), m.heightForWidth(self.width())

    # -- QWidget -------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return self._measure.sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self._measure.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        # An empty label answers -1 and its layout gives it a line's height (its minimum
        # size hint): so does this line, or the plots would move down at the first text.
        return max(self._measure.heightForWidth(width), self._measure.minimumSizeHint().height())

    def resizeEvent(self, event: Any) -> None:
        self._laid_out = self._sizes()      # at the new width
        super().resizeEvent(event)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        # The background the page paints under it (its palette's, from the style sheet).
        painter.fillRect(event.rect(), self.palette().color(QPalette.ColorRole.Window))
        palette = QPalette(self.palette())
        if self._alarming:
            palette.setColor(QPalette.ColorRole.WindowText, self._alarm_colour)
        painter.setFont(self._alarm_font if self._alarming else self._plain_font)
        self.style().drawItemText(painter, self.contentsRect(), int(FLAGS), palette, self.isEnabled(),
                                  self._text, QPalette.ColorRole.WindowText)
        painter.end()
