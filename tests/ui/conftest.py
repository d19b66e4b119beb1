"""Fixtures for the GUI tests (helpers themselves are in ``ui_support``)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from hvconsole.core.snapshot import Snapshot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui_support import ScriptedCollector, make_worker, release_input


@pytest.fixture(autouse=True)
def _input_released():
    """Every GUI test starts with no mouse button or modifier held (see release_input)."""
    release_input()


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory, monkeypatch):
    """Each GUI test its own hvconsole home: the window remembers state between starts
    (the sites' last known hosts and VMs, history files), so one test's demo run must not
    be what the next test's window shows first. Tests with a ``home`` fixture set their own."""
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path_factory.mktemp("home")))




@pytest.fixture
def scripted_workers():
    """Build (workers, collectors) from a {host: script} mapping."""
    def build(scripts: dict[str, Callable[[int], Snapshot]]):
        collectors = {h: ScriptedCollector(s) for h, s in scripts.items()}
        workers = [make_worker(h, c) for h, c in collectors.items()]
        return workers, collectors
    return build


@pytest.fixture
def graphs(qtbot):
    """A host graphs pane on screen, the size of the window's."""
    from hvconsole.ui.hosts.host_graphs import HostGraphs
    w = HostGraphs()
    qtbot.addWidget(w)
    w.resize(420, 760)
    w.show()
    qtbot.waitExposed(w)
    return w
