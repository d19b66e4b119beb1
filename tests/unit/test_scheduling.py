"""The suite's own scheduling helpers (tests/scheduling.py): the measured durations file,
test ids with xdist's group suffix, and the recorder that refreshes the file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tests import scheduling


def test_a_missing_or_broken_durations_file_means_no_measurements(tmp_path: Path) -> None:
    assert scheduling.load_durations(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert scheduling.load_durations(broken) == {}
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"a.py::t": 2, "b.py::t": "slow"}), encoding="utf-8")
    assert scheduling.load_durations(odd) == {"a.py::t": 2.0}


def test_the_group_suffix_is_taken_off_but_an_at_sign_in_a_parameter_stays() -> None:
    assert scheduling.base_nodeid("tests/a.py::t@tests/a.py") == "tests/a.py::t"
    assert scheduling.base_nodeid("tests/a.py::t[x]@tests/a.py") == "tests/a.py::t[x]"
    assert scheduling.base_nodeid("tests/a.py::t[user@host]") == "tests/a.py::t[user@host]"


def report(nodeid: str, seconds: float, *, slow: bool = False) -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, duration=seconds, keywords={"slow": 1} if slow else {})


def test_the_recorder_adds_up_the_phases_and_merges_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"kept.py::t": 3.0, "faster.py::t": 4.0}), encoding="utf-8")
    recorder = scheduling.DurationRecorder(path)
    for phase in (0.2, 0.5, 0.1):                       # setup, call, teardown
        recorder.pytest_runtest_logreport(report("long.py::t@long.py", phase))  # type: ignore[arg-type]
    recorder.pytest_runtest_logreport(report("faster.py::t", 0.1))  # type: ignore[arg-type]
    recorder.pytest_runtest_logreport(report("short.py::t", 0.1))  # type: ignore[arg-type]
    recorder.pytest_runtest_logreport(report("marked.py::t", 0.1, slow=True))  # type: ignore[arg-type]
    recorder.pytest_sessionfinish(SimpleNamespace(config=SimpleNamespace()))  # type: ignore[arg-type]
    assert scheduling.load_durations(path) == {"kept.py::t": 3.0, "long.py::t": 0.8, "marked.py::t": 0.1}


def test_a_worker_leaves_the_file_to_the_controller(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    recorder = scheduling.DurationRecorder(path)
    recorder.pytest_runtest_logreport(report("long.py::t", 9.0))  # type: ignore[arg-type]
    recorder.pytest_sessionfinish(SimpleNamespace(config=SimpleNamespace(workerinput={})))  # type: ignore[arg-type]
    assert not path.exists()
