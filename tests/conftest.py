"""Suite-wide test setup: Qt offscreen, and an isolated hvconsole home so that no test
reads or writes the real user's configuration, data or logs."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before any Qt import: the suite runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every path the product writes (inventory, settings, journal) goes under this folder.
os.environ["HVCONSOLE_HOME"] = _home = tempfile.mkdtemp(prefix="hvconsole-test-home-")
atexit.register(shutil.rmtree, _home, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Slow tests first (stable otherwise): the workers take tests in this order, so a slow
    test left near the end would run alone while the other worker has nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
