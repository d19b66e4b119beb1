"""The order in which the suite's tests are handed to the xdist workers, and which tests
must stay on one worker.

Workers take tests from the front of one queue, so the queue starts with the longest work:
a long test taken last would run alone while the other workers have nothing left to do.
"Longest" is what the last measurement said (``tests/durations.json``, written by
``pytest --store-durations=tests/durations.json``); a test not measured yet counts as short,
or as a few seconds when it is marked ``slow``.

A module whose tests share a module-scoped fixture (a KDC, a Samba server, a simulated
site, a Secret Service) is one unit of work (an ``xdist_group``): spread over the workers,
each of them would start that fixture again. A unit weighs the sum of its tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DURATIONS_FILE = Path(__file__).with_name("durations.json")
SLOW_UNMEASURED_S = 5.0      # a test marked slow that has no measurement yet
UNMEASURED_S = 0.1           # anything else not measured yet (most tests take milliseconds)
STORE_AT_LEAST_S = 0.5       # shorter tests are left out of the file: they do not move the order
SHARED_SCOPES = ("module", "class", "package")


def load_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """Measured seconds by test id; empty when the file is absent or unreadable (the order
    then falls back to the ``slow`` marks, nothing fails)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def base_nodeid(nodeid: str) -> str:
    """The test id without the ``@group`` suffix xdist's loadgroup adds to it."""
    at, bracket = nodeid.rfind("@"), nodeid.rfind("]")
    return nodeid[:at] if at > bracket else nodeid


def shared_fixture_group(item: pytest.Item) -> str | None:
    """The module's path when the test uses a module-, class- or package-scoped fixture
    defined by the suite (not by a plugin), else None."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if defs and defs[-1].scope in SHARED_SCOPES and str(defs[-1].baseid).startswith("tests"):
            return item.nodeid.split("::", 1)[0]
    return None


def explicit_group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def order_and_group(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Sort ``items`` in place, heaviest unit first (stable otherwise), and put each module
    with a shared fixture in its own ``xdist_group`` when the run distributes by group."""
    durations = load_durations()
    # On an xdist worker "dist" reads "no" and "loadgroup" says how the controller hands out tests.
    grouping = bool(getattr(config.option, "loadgroup", False)) or config.getoption("dist", "no") == "loadgroup"
    unit_of: dict[int, str] = {}
    weight: dict[str, float] = {}
    for item in items:
        group = explicit_group(item)
        if group is None:
            group = shared_fixture_group(item)
            if group is not None and grouping:
                item.add_marker(pytest.mark.xdist_group(group))
        unit = group if group is not None else item.nodeid
        unit_of[id(item)] = unit
        default = SLOW_UNMEASURED_S if item.get_closest_marker("slow") else UNMEASURED_S
        weight[unit] = weight.get(unit, 0.0) + durations.get(item.nodeid, default)
    # A unit's tests stay together and in their own order (a module's fixture is set up
    # once per worker, and once in a run without workers).
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(unit_of[id(item)], index)
    position = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-weight[unit_of[id(item)]], first_seen[unit_of[id(item)]],
                                 position[id(item)]))


class GroupIds:
    """Makes ``--dist loadgroup`` group again on pytest 9.2, on an xdist worker.

    xdist (3.8) tells its controller a test's group by appending ``@group`` to the test id it
    sends, and writes that into a field pytest 9.2 no longer reads (its ids are structured
    now): the groups silently vanish and every test is handed out alone (pytest-xdist issue
    1386). After xdist's own attempt, the id of a grouped test that still lacks the suffix
    gets it through pytest's structured id. Nothing happens where xdist's attempt took.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                            for mark in item.iter_markers("xdist_group")})
            suffix = "@" + "_".join(names)
            if not names or item.nodeid.endswith(suffix) or not hasattr(item, "_id"):
                continue
            try:
                from _pytest.nodeid import NodeId
            except ImportError:
                return
            item._id = NodeId.parse(item.nodeid + suffix)


class DurationRecorder:
    """Adds up each test's setup, call and teardown time (on the xdist controller the
    workers' reports arrive here too) and writes the tests of at least
    ``STORE_AT_LEAST_S``, and every test marked ``slow``, to ``path``, merged into what the
    file already holds."""

    def __init__(self, path: Path):
        self.path = path
        self.measured: dict[str, float] = {}
        # Kept whatever they took: left out, they would count as unmeasured slow tests.
        self.marked_slow: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = base_nodeid(report.nodeid)
        self.measured[nodeid] = self.measured.get(nodeid, 0.0) + report.duration
        if "slow" in report.keywords:
            self.marked_slow.add(nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if getattr(session.config, "workerinput", None) is not None:
            return      # a worker: the controller writes the file
        merged = load_durations(self.path)
        for nodeid, seconds in self.measured.items():
            if seconds >= STORE_AT_LEAST_S or nodeid in self.marked_slow:
                merged[nodeid] = round(seconds, 1)
            else:
                merged.pop(nodeid, None)
        self.path.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n", encoding="utf-8")
