"""``hvconsole detect``: table and findings-v1 output, threshold overrides, stdin, bad and
out-of-order lines as warnings naming the line, exit 2 only for unreadable input."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from hvconsole.cli import detect as detect_cli
from hvconsole.core.timeutil import parse_time
from hvconsole.core.trace import write_snapshot

from .builders import FakeSite

SCHEMA = json.loads((Path(__file__).parents[2] / "fixtures" / "contracts" / "findings-v1.schema.json").read_text())


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hvconsole")
    detect_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["detect", *argv])


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = parse(argv)
    rc = args.handler(args, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def trace_lines(seconds: float = 120.0) -> list[str]:
    site = FakeSite()
    h = site.host("HV01", vms=3)
    snaps = site.run(30)
    vm = h.vm("HV01-VM01")
    vm.heartbeat, vm.cpu = "LostCommunication", 0.0
    snaps += site.run(seconds)
    buf = io.StringIO()
    for s in snaps:
        write_snapshot(buf, s)
    return buf.getvalue().splitlines()


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(trace_lines()) + "\n")
    return path


def test_table(trace: Path):
    rc, out, err = cli([str(trace)])
    assert rc == 0 and err == ""
    header, row, total = out.splitlines()
    assert header.split() == ["SEVERITY", "HOST", "VM", "KIND", "FIRST", "SEEN", "LAST", "SEEN", "ACTIVE", "EVIDENCE"]
    assert row.split()[:4] == ["critical", "HV01", "HV01-VM01", "heartbeat-lost-cpu-flat"]
    assert "yes" in row.split() and "heartbeat LostCommunication since 09:00:30Z" in row
    assert total.startswith("1 finding: 1 critical (1 active), 0 warning")


def test_json_is_findings_v1(trace: Path):
    rc, out, _ = cli(["--json", str(trace)])
    doc = json.loads(out)
    assert rc == 0
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert [(f["kind"], f["vm_name"]) for f in doc["findings"]] == [("heartbeat-lost-cpu-flat", "HV01-VM01")]


def test_nothing_found_is_still_exit_0(tmp_path: Path):
    path = tmp_path / "quiet.jsonl"
    site = FakeSite()
    site.host("HV01", vms=2)
    with path.open("w") as f:
        for s in site.run(60):
            write_snapshot(f, s)
    rc, out, _ = cli([str(path)])
    assert rc == 0 and out.startswith("no findings")
    rc, out, _ = cli(["--json", str(path)])
    assert rc == 0 and json.loads(out) == {"schema": "hvconsole.findings/1", "findings": []}


def test_thresholds_file_overrides(trace: Path, tmp_path: Path):
    th = tmp_path / "th.json"
    th.write_text(json.dumps({"heartbeat_lost_polls": 100, "heartbeat_lost_s": 600,
                              "heartbeat_lost_critical_s": 900}))
    rc, out, _ = cli(["--thresholds", str(th), str(trace)])
    assert rc == 0 and out.startswith("no findings")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"boot_grace": 3}', "did you mean 'boot_grace_s'"),
    ("[1, 2]", "JSON object"),
    ("[" * 100_000, "not valid JSON (nested too deeply)"),
    ('{"boot_grace_s": ' + "9" * 5000 + "}", "not valid JSON"),
    ('{"boot_grace_s": 1e999}', "finite"),
])
def test_bad_thresholds_file_is_exit_2(trace: Path, tmp_path: Path, content, message):
    th = tmp_path / "th.json"
    th.write_text(content)
    rc, out, err = cli(["--thresholds", str(th), str(trace)])
    assert rc == 2 and out == "" and message in err


def test_missing_thresholds_file_is_exit_2(trace: Path, tmp_path: Path):
    rc, _, err = cli(["--thresholds", str(tmp_path / "nope.json"), str(trace)])
    assert rc == 2 and "nope.json" in err


def test_reads_stdin(trace: Path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(trace.read_bytes())))
    rc, out, _ = cli(["--json", "-"])
    assert rc == 0 and json.loads(out)["findings"][0]["kind"] == "heartbeat-lost-cpu-flat"


def test_malformed_and_out_of_order_lines_are_warned_and_skipped(tmp_path: Path):
    lines = trace_lines()
    mangled = [*lines[:5], "{not json", lines[2], '{"schema": "hvconsole.snapshot/1"}', *lines[5:]]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(mangled) + "\n")
    (tmp_path / "good.jsonl").write_text("\n".join(lines) + "\n")
    rc, out, err = cli(["--json", str(path)])
    assert rc == 0
    warnings = err.splitlines()
    assert warnings[0].startswith(f"hvconsole detect: warning: {path} line 6: not valid JSON")
    assert warnings[1].startswith(f"hvconsole detect: warning: {path} line 7: out of order")
    assert warnings[2].startswith(f"hvconsole detect: warning: {path} line 8: host: missing")
    _, clean_out, _ = cli(["--json", str(tmp_path / "good.jsonl")])
    assert json.loads(out)["findings"] and json.loads(out) == json.loads(clean_out)


def test_strict_makes_the_first_bad_line_fatal(tmp_path: Path):
    lines = trace_lines()
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*lines[:3], "oops", *lines[3:]]) + "\n")
    rc, out, err = cli(["--strict", str(path)])
    assert rc == 2 and out == ""
    assert err.strip() == f"hvconsole detect: {path} line 4: not valid JSON (Expecting value: line 1 column 1 (char 0))"


def test_too_many_bad_lines_are_summarised(tmp_path: Path):
    lines = trace_lines()
    path = tmp_path / "noisy.jsonl"
    path.write_text("\n".join([*lines[:3], *["x"] * 50, *lines[3:]]) + "\n")
    rc, _, err = cli([str(path)])
    assert rc == 0
    assert len(err.splitlines()) == detect_cli.MAX_LINE_WARNINGS + 1
    assert "50 bad lines skipped in all (30 not shown)" in err


@pytest.mark.parametrize("content", [b"\x00\x01binary\xff\n", b"hello\nworld\n", b'{"host": "x"}\n'])
def test_input_without_any_snapshot_is_exit_2_naming_the_line(tmp_path: Path, content: bytes):
    path = tmp_path / "not-a-trace"
    path.write_bytes(content)
    rc, out, err = cli([str(path)])
    assert rc == 2 and out == ""
    assert "is not a trace: no valid snapshot; first problem at line 1" in err


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_input_is_exit_2_as_the_help_says(tmp_path: Path, content: bytes):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    rc, out, err = cli(["--json", str(path)])
    assert (rc, out) == (2, "")
    assert err == f"hvconsole detect: {path} is empty: no snapshot to look at\n"


def test_one_bad_value_skips_its_line_and_keeps_the_rest(tmp_path: Path):
    """Issue 10: a time a datetime cannot hold or a 5,000-digit integer used to end the run
    with a traceback (and the whole trace with it); now only that line is skipped."""
    lines = trace_lines()
    bad_date = lines[4].replace('"polled_at":"', '"polled_at":"/Date(99999999999999999999)/","x":"', 1)
    bad_offset = json.loads(lines[5])
    bad_offset["vms"][0]["last_backup"] = "0001-01-01T00:00:00+01:00"
    huge = lines[6].replace('"collect_ms":', '"collect_ms":' + "9" * 5000 + ',"y":', 1)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*lines[:4], bad_date, json.dumps(bad_offset), huge, *lines[7:]]) + "\n")
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join([*lines[:4], *lines[7:]]) + "\n")
    rc, out, err = cli(["--json", str(path)])
    assert rc == 0, err
    assert len(err.splitlines()) == 3
    assert all(line.startswith(f"hvconsole detect: warning: {path} line ") for line in err.splitlines())
    assert "line 5: polled_at: time out of range" in err
    assert "line 6: vms[0].last_backup: time out of range" in err
    assert "line 7: not valid JSON" in err
    _, good_out, _ = cli(["--json", str(good)])
    assert json.loads(out) == json.loads(good_out) and json.loads(out)["findings"]


def test_host_names_in_a_bad_line_warning_are_cleaned(tmp_path: Path):
    lines = trace_lines()
    evil = json.loads(lines[1])
    evil["host"] = "HV01\x1b]0;pwned\x07\u202e"
    path = tmp_path / "evil.jsonl"
    # the same host name twice, the second a few seconds back in time: "out of order: <host> ..."
    # (further back would be the recording console's clock stepped back, and kept)
    earlier = (parse_time(evil["polled_at"]) - timedelta(seconds=10)).isoformat()
    path.write_text("\n".join([lines[0], json.dumps(evil), json.dumps({**evil, "polled_at": earlier})]))
    rc, _, err = cli([str(path)])
    assert rc == 0 and "out of order" in err
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err


def test_unreadable_input_is_exit_2(tmp_path: Path):
    rc, _, err = cli([str(tmp_path / "missing.jsonl")])
    assert rc == 2 and "cannot read" in err and "missing.jsonl" in err
    rc, _, err = cli([str(tmp_path)])  # a directory
    assert rc == 2 and "cannot read" in err


def test_host_text_cannot_drive_the_terminal(tmp_path: Path):
    site = FakeSite()
    h = site.host("HV01")
    h.add("evil\x1b]0;pwned\x07name", heartbeat="LostCommunication", cpu=0.0)
    path = tmp_path / "evil.jsonl"
    with path.open("w") as f:
        for s in site.run(60):
            write_snapshot(f, s)
    rc, out, _ = cli([str(path)])
    assert rc == 0 and "\x1b" not in out and "\x07" not in out and "evil ]0;pwned name" in out


def test_the_installed_command_runs_end_to_end(trace: Path):
    """Through ``python -m hvconsole``: the subcommand is wired into the real CLI."""
    proc = subprocess.run([sys.executable, "-m", "hvconsole", "detect", "--json", str(trace)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["kind"] == "heartbeat-lost-cpu-flat"
