"""Suite-wide test setup: Qt offscreen, and an isolated hvconsole home so that no test
reads or writes the real user's configuration, data or logs."""

from __future__ import annotations

import os
import tempfile

# Before any Qt import: the suite runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every path the product writes (inventory, settings, journal) goes under this folder.
os.environ["HVCONSOLE_HOME"] = tempfile.mkdtemp(prefix="hvconsole-test-home-")
