"""The Qt boilerplate every flat, read-only table in the window shares (host list, findings,
events): fixed column names, rows from one Python list, selectable cells, no children.
:class:`LinesTableModel` adds the list itself for the tables whose rows are plain objects
(findings, events)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar, cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
)

# The item roles as the ints ``data()`` receives (the enum compares slower on every call).
DISPLAY = int(Qt.ItemDataRole.DisplayRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
DECORATION = int(Qt.ItemDataRole.DecorationRole)
ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
FONT = int(Qt.ItemDataRole.FontRole)

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

    # No flags() here: QAbstractTableModel's own answers the same (enabled, selectable, no
    # children; nothing for an invalid index), and a view asks it of every cell it paints,
    # which in Python cost a call back from C++ per cell.

    def multiData(self, index: QModelIndex | QPersistentModelIndex, span: QModelRoleDataSpan | QModelRoleData) -> None:
        """Every role a cell's paint asks for in one call from C++ (Qt 6's item delegate
        asks seven at once), answered by ``data()`` as one call each would be: the calls
        back from C++ into Python were most of a table's repaint."""
        data = self.data
        # Qt hands a span, which PySide6 iterates (one QModelRoleData per role); its stub
        # lists a single QModelRoleData too and no iteration.
        for item in cast("Iterable[QModelRoleData]", span):
            item.setData(data(index, item.role()))


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

    def _replace_lines(self, new: Sequence[LineT],
                       key: Callable[[LineT], Hashable]) -> list[tuple[int, LineT]]:
        """Make the lines ``new`` (unique keys) with row signals instead of a reset: lines
        whose key is gone are removed, kept lines that changed places are moved (the fewest
        moves: the longest run already in order stays), new ones inserted. A reset made the
        view forget its selection and repaint and re-measure every line; this way the view
        repaints what moved, and selected lines stay selected.

        Returns (row in ``new``, the line it replaced) for kept lines whose object changed:
        their cells are the caller's to announce (it knows which of them look different)."""
        parent = QModelIndex()
        wanted = {key(line): i for i, line in enumerate(new)}
        gone = [i for i, line in enumerate(self._lines) if key(line) not in wanted]
        for first, last in reversed(runs(gone)):
            self.beginRemoveRows(parent, first, last)
            del self._lines[first:last + 1]
            self.endRemoveRows()
        self._move_into_order([wanted[key(line)] for line in self._lines])
        kept = len(self._lines)
        if kept < len(new):
            here = {key(line) for line in self._lines}
            added = [i for i, line in enumerate(new) if key(line) not in here]
            for first, last in runs(added):   # ascending: every line above is in place
                self.beginInsertRows(parent, first, last)
                self._lines[first:first] = new[first:last + 1]
                self.endInsertRows()
        changed = []
        for i, line in enumerate(new):
            old = self._lines[i]
            if old is not line:
                self._lines[i] = line
                changed.append((i, old))
        return changed

    def _move_into_order(self, targets: list[int]) -> None:
        """Move lines so that ``targets`` (each line's place in the wanted order) ascends,
        one ``beginMoveRows`` per line outside the longest ascending run."""
        stay = set(_longest_ascending(targets))
        if len(stay) == len(targets):
            return
        parent = QModelIndex()
        order = list(targets)            # follows the moves
        for target in sorted(targets):
            if target in stay:
                continue
            source = order.index(target)
            # Right after the line that comes before it in the wanted order (those are in
            # place already: they stay, or were moved earlier in this loop).
            before = [t for t in sorted(stay) if t < target]
            dest = order.index(before[-1]) + 1 if before else 0
            if dest not in (source, source + 1):
                self.beginMoveRows(parent, source, source, parent, dest)
                moved = self._lines.pop(source)
                order.pop(source)
                at = dest if dest < source else dest - 1
                self._lines.insert(at, moved)
                order.insert(at, target)
                self.endMoveRows()
            stay.add(target)


def runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending row numbers as (first, last) runs of adjacent rows."""
    found: list[tuple[int, int]] = []
    for row in rows:
        if found and found[-1][1] == row - 1:
            found[-1] = (found[-1][0], row)
        else:
            found.append((row, row))
    return found


def _longest_ascending(values: Sequence[int]) -> list[int]:
    """The values of one longest strictly ascending subsequence (patience sorting)."""
    tails: list[int] = []        # tails[k]: index of the smallest tail of a run of k + 1
    tail_values: list[int] = []  # values[tails[k]]
    back: list[int] = []         # back[i]: index of the value before values[i] in its run
    for i, value in enumerate(values):
        k = bisect_left(tail_values, value)
        back.append(tails[k - 1] if k else -1)
        if k == len(tails):
            tails.append(i)
            tail_values.append(value)
        else:
            tails[k] = i
            tail_values[k] = value
    out: list[int] = []
    i = tails[-1] if tails else -1
    while i >= 0:
        out.append(values[i])
        i = back[i]
    return out[::-1]
