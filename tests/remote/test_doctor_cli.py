"""``hvconsole doctor`` as an admin runs it: a subprocess against the demo site (every check
passes, exit 0), ``--json``, and the usage errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hvconsole.doctor.checks import CHECKS

RUN_TIMEOUT_S = 180   # generous: the subprocess starts the whole demo site on a loaded machine
pytestmark = pytest.mark.timeout(400)


def hvconsole(*args: str) -> subprocess.CompletedProcess:
    # The demo hosts' own latencies at a fifth: these runs prove the verdicts, not timings
    # (docs/performance.md, "Test suite").
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=dict(os.environ, HVCONSOLE_SIM_LATENCY_SCALE="0.2"))


def test_doctor_demo_passes_every_check_and_exits_0():
    done = hvconsole("doctor", "--demo", "HV01")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("HV01: checking http://127.0.0.1:")
    checks = [line for line in lines if line.startswith("  ")]
    assert len(checks) == len(CHECKS) and not any("FAIL" in line or "----" in line for line in checks)
    assert lines[-1] == f"all {len(CHECKS)} checks passed"


def test_doctor_demo_json_is_one_document_with_every_check():
    done = hvconsole("doctor", "--demo", "hv03", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["host"] == "HV03"
    assert [c["key"] for c in report["checks"]] == [c.key for c in CHECKS]
    assert {c["verdict"] for c in report["checks"]} <= {"pass", "n/a"}


@pytest.mark.parametrize("args, says", [
    ((), "name a host of the inventory"),
    (("HV01", "--demo", "HV01"), "name a host of the inventory"),
    (("--demo", "NOPE"), "no demo host 'NOPE'"),
    (("--demo", "HV01", "--timeout", "0"), "--timeout must be above 0"),
    (("--demo", "HV01", "--trace", "x.jsonl"), "only apply with --bundle"),
])
def test_usage_errors_exit_2_with_one_clear_line(args, says):
    from hvconsole.cli import main
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["doctor", *args])
    assert code == 2 and says in err.getvalue() and "Traceback" not in err.getvalue(), err.getvalue()


def test_an_unknown_inventory_host_is_one_line(tmp_path, monkeypatch, capsys):
    from hvconsole import paths
    from hvconsole.cli import main
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    assert main(["doctor", "HV-NOWHERE"]) == 2
    err = capsys.readouterr().err
    assert "no host 'HV-NOWHERE' in the inventory" in err and "Traceback" not in err
