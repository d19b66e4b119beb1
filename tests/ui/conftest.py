"""Fixtures for the GUI tests (helpers themselves are in ``ui_support``)."""

from __future__ import annotations

import os
from typing import Callable

import pytest

from hvconsole.core.snapshot import Snapshot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui_support import ScriptedCollector, make_worker  # noqa: E402




@pytest.fixture
def scripted_workers():
    """Build (workers, collectors) from a {host: script} mapping."""
    def build(scripts: dict[str, Callable[[int], Snapshot]]):
        collectors = {h: ScriptedCollector(s) for h, s in scripts.items()}
        workers = [make_worker(h, c) for h, c in collectors.items()]
        return workers, collectors
    return build
