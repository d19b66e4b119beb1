"""The Qt boilerplate every flat, read-only table in the window shares (host list, findings,
events): fixed column names, rows from one Python list, selectable cells, no children.
:class:`LinesTableModel` adds the list itself for the tables whose rows are plain objects
(findings, events)."""

from __future__ import annotations

from typing import Any, Generic, Sequence, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

# The item roles as the ints ``data()`` receives (the enum compares slower on every call).
DISPLAY = int(Qt.ItemDataRole.DisplayRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
DECORATION = int(Qt.ItemDataRole.DecorationRole)
ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
FONT = int(Qt.ItemDataRole.FontRole)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

LineT = TypeVar("LineT")


class ColumnsTableModel(QAbstractTableModel):
    """Subclasses set ``columns`` and implement ``_row_count`` and ``data``."""

    columns: Sequence[str] = ()

    def _row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(self.columns):
            return self.columns[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags


class LinesTableModel(ColumnsTableModel, Generic[LineT]):
    """Rows are the objects in ``self._lines`` (the subclass keeps the list and signals its
    changes); subclasses implement ``_line_data(line, column, role)``."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._lines: list[LineT] = []

    def _row_count(self) -> int:
        return len(self._lines)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        return self._line_data(self._lines[index.row()], index.column(), role)

    def _line_data(self, line: LineT, col: int, role: int) -> Any:
        raise NotImplementedError

    def line(self, row: int) -> LineT:
        return self._lines[row]
