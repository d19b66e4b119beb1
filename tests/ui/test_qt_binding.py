"""The installed Qt binding must not leak references to None/True (PySide6 6.12.0 does on
Python 3.11 and then aborts the interpreter after a few thousand calls; pyproject.toml
excludes it). This fails loudly if such a build is ever installed."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()


def test_void_calls_and_emit_keep_none_and_true_alive():
    probe = _Probe()
    none_before = sys.getrefcount(None)
    for _ in range(500):
        probe.setObjectName("probe")      # a void method: returns None
    true_before = sys.getrefcount(True)
    for _ in range(500):
        probe.ping.emit()                 # returns True
    # A little noise from other objects is fine; a leak loses one reference per call.
    assert none_before - sys.getrefcount(None) < 50
    assert true_before - sys.getrefcount(True) < 50
