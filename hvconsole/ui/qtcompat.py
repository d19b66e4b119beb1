"""Differences between Qt binding versions, each handled where it is detected.

(PySide6 6.12.0 drops a reference to ``None``/``True`` on every void call and ``emit()`` on
Python 3.11 until the interpreter aborts; pyproject.toml excludes it, and
``tests/ui/test_qt_binding.py`` fails if such a binding is ever installed.)
"""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel


def refilter(proxy: QSortFilterProxyModel, change: object = None) -> None:
    """Re-run a proxy's row filter after its criteria changed (``change()``, if given,
    changes them in between). Qt 6.9 replaced ``invalidateFilter`` (now deprecated) by
    ``beginFilterChange``/``endFilterChange``; older bindings only have the former."""
    if hasattr(proxy, "beginFilterChange"):
        proxy.beginFilterChange()
        if callable(change):
            change()
        proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
    else:
        if callable(change):
            change()
        proxy.invalidateFilter()
