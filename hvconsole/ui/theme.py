"""Look and feel: the application style sheet, SVG icons, and cached colours and fonts.

Resources live in the repository's ``resources/`` folder (icons as SVG, ``style.qss``).
A missing resource degrades to Qt's defaults instead of failing: the console must open
even from an odd install.
"""

from __future__ import annotations

import logging
from functools import cache

from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from ..assets import asset_path
from ..monitoring import vmstate

log = logging.getLogger(__name__)



@cache
def colour(hex_value: str) -> QColor:
    return QColor(hex_value)


def state_qcolour(state: str) -> QColor:
    return colour(vmstate.state_colour(state))


def severity_qcolour(severity: str | None) -> QColor:
    return colour(vmstate.SEVERITY_COLOUR.get(severity or "", "#5f6368"))


@cache
def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` as an icon (an empty icon if missing)."""
    path = asset_path("icons", f"{name}.svg")
    if not path.is_file():
        log.debug("icon %s not found at %s", name, path)
        return QIcon()
    return QIcon(str(path))


def stylesheet() -> str:
    path = asset_path("style.qss")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("style sheet not found at %s; using Qt's default look", path)
        return ""


def apply_theme(app: QApplication) -> None:
    """Fusion with a light palette (the same look on every platform and offscreen), the
    style sheet and the application icon."""
    app.setStyle("Fusion")
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#f3f4f6"))
    palette.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f7f8fa"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#1e6fd9"))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor("#ffffe8"))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor("#202124"))
    app.setPalette(palette)
    font = app.font()
    if font.pointSizeF() < 9.0:
        font.setPointSizeF(9.0)
        app.setFont(font)
    app.setStyleSheet(stylesheet())
    app.setWindowIcon(icon("hvconsole"))


def bold(font: QFont, delta_pt: float = 0.0) -> QFont:
    f = QFont(font)
    f.setBold(True)
    if delta_pt:
        f.setPointSizeF(f.pointSizeF() + delta_pt)
    return f


def sized(font: QFont, delta_pt: float) -> QFont:
    f = QFont(font)
    f.setPointSizeF(max(6.0, f.pointSizeF() + delta_pt))
    return f
