"""Suite-wide test setup: Qt offscreen, an isolated hvconsole home so that no test reads or
writes the real user's configuration, data or logs, and the order the workers take tests in
(tests/scheduling.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import prewarm, scheduling

# Before any Qt import: the suite runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every path the product writes (inventory, settings, journal) goes under this folder.
os.environ["HVCONSOLE_HOME"] = _home = tempfile.mkdtemp(prefix="hvconsole-test-home-")
atexit.register(shutil.rmtree, _home, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store-durations", metavar="PATH", default=None,
                     help="write each test's measured time (of those of at least "
                          f"{scheduling.STORE_AT_LEAST_S} s) to PATH, merged into it: the suite's "
                          "order comes from tests/durations.json")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--store-durations")
    if path:
        config.pluginmanager.register(scheduling.DurationRecorder(Path(path)), "store-durations")
    if getattr(config.option, "loadgroup", False):     # an xdist worker under --dist loadgroup
        config.pluginmanager.register(scheduling.GroupIds(), "xdist-group-ids")


@pytest.hookimpl(optionalhook=True)   # an xdist hook: absent without xdist
def pytest_xdist_setupnodes(config: pytest.Config) -> None:
    """The xdist controller, before it starts the workers (tests/prewarm.py); called inside
    the session, so pytest's own timing includes it."""
    prewarm.rewrite_before_workers(config)


@pytest.hookimpl(tryfirst=True)   # before xdist reads the groups (it adds them to the test ids)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first (stable otherwise): the workers take tests in this order, so a long
    test left near the end would run alone while the others have nothing left to do."""
    scheduling.order_and_group(config, items)
