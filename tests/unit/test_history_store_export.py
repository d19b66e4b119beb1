"""``hvconsole history export`` and ``info``: the stored history for the admin's own tools,
through the command line a user types (subprocess-free: the parser and handler in-process)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from hvconsole.cli import build_parser, main
from hvconsole.cli.history import parse_when
from hvconsole.core.detector.findings import Finding
from hvconsole.core.historydb import HistoryWriter

from test_history_store import T0, VM_A, cpu_at, snap


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    w = HistoryWriter(path, flush_interval_s=0.05)
    for i in range(12 * 30):                                   # 30 minutes at 5 s
        findings = []
        if i == 100:
            findings = [Finding(host="HV01", vm_id=VM_A, vm_name="SQL-01", kind="heartbeat-lost", severity="warning",
                                first_seen=T0 + timedelta(seconds=500), last_seen=T0 + timedelta(seconds=500),
                                active=True, evidence=("heartbeat LostCommunication for 25 s",))]
        w.add(snap(i), findings)
    assert w.flush(30) and w.close()
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["history", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_csv_of_the_last_ten_minutes_is_every_poll(history: Path, capsys) -> None:
    code, out, err = run(["export", "HV01", "--since", "10m", "--csv", "--file", str(history)], capsys)
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["time", "cpu_total_pct", "cpu_guest_pct"]
    assert len(rows) - 1 == 121                                 # 10 minutes at 5 s, both ends included
    last = rows[-1]
    assert last[0] == "2026-05-04T08:29:55.000Z"
    assert float(last[1]) == pytest.approx(cpu_at(359), abs=1e-3)
    assert last[2] == ""                                         # unknown stays empty, not 0


def test_json_of_a_vm_by_name_with_minutes_and_markers(history: Path, capsys) -> None:
    code, out, _ = run(["export", "hv01", "sql-01", "--since", "2026-05-04T08:00:00Z", "--until", "2026-05-04T08:20:00",
                        "--resolution", "1m", "--json", "--file", str(history)], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "hvconsole.history-export/1"
    assert doc["vm"] == {"name": "SQL-01", "id": VM_A} and doc["resolution_s"] == 60
    assert doc["fields"] == ["cpu_pct", "memory_assigned_mb", "memory_demand_mb"]
    first = doc["samples"][0]
    assert first["time"] == "2026-05-04T08:00:00.000Z" and first["samples"] == 12
    expected = sum(cpu_at(i) / 2 for i in range(12)) / 12
    assert first["mean"]["cpu_pct"] == pytest.approx(expected, abs=0.01)
    assert first["min"]["memory_assigned_mb"] == 8192
    kinds = [(m["category"], m["kind"]) for m in doc["markers"]]
    assert ("finding", "heartbeat-lost") in kinds and ("state", "state") in kinds


def test_info_says_size_and_budget(history: Path, capsys) -> None:
    code, out, _ = run(["info", "--file", str(history)], capsys)
    assert code == 0
    assert "hosts         HV01" in out and "VMs           2" in out and "budget for 1 hosts and 2 VMs" in out


@pytest.mark.parametrize("argv, message", [
    (["export", "HV09", "--since", "1h"], "no history of host 'HV09' (hosts in the file: HV01)"),
    (["export", "HV01", "NOPE", "--since", "1h"], "no history of a VM 'NOPE' on HV01"),
    (["export", "HV01", "--since", "last tuesday"], "is neither an ISO 8601 time nor a duration"),
    (["export", "HV01", "--since", "1h", "--until", "2h"], "--since must be before --until"),
])
def test_bad_requests_are_one_line_and_exit_2(history: Path, capsys, argv, message) -> None:
    code, out, err = run([*argv, "--file", str(history)], capsys)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_no_history_file_yet(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    code, _, err = run(["export", "HV01", "--demo"], capsys)
    assert code == 2 and "no history file at" in err and "demo" in err


def test_times_parse_as_durations_or_iso() -> None:
    now = 1_800_000_000.0
    assert parse_when("90m", now) == now - 5400
    assert parse_when("7d", now) == now - 7 * 86400
    assert parse_when("2026-05-04T08:00:00Z", now) == T0.timestamp()
    assert parse_when("2026-05-04T10:00:00+02:00", now) == T0.timestamp()
    with pytest.raises(ValueError):
        parse_when("yesterday", now)


def test_the_command_is_registered() -> None:
    args = build_parser().parse_args(["history", "export", "HV01", "--since", "1d", "--json"])
    assert args.handler.__module__ == "hvconsole.cli.history"
