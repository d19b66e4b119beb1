"""``hvconsole patch check --demo`` shows applicability per host with its reason (issue 11):
the demo's regressed hosts run confidential VMs, so KB5061906 (scoped by Microsoft to
confidential VMs) is needed there, and the output says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _check(tmp_path, *args: str) -> list[dict]:
    # Latencies at a fifth: the verdicts are checked, not timings.
    env = dict(os.environ, HVCONSOLE_HOME=str(tmp_path), HVCONSOLE_SIM_LATENCY_SCALE="0.2")
    done = subprocess.run([sys.executable, "-m", "hvconsole", "patch", "check", "--demo", *args],
                          capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def test_check_demo_says_why_kb5061906_applies(tmp_path):
    rows = {r["host"]: r for r in _check(tmp_path, "--kb", "KB5061906", "--json")}
    for host in ("HV01", "HV05"):
        assert rows[host]["status"] == "needs-update" and rows[host]["applies"] is True
        assert "applies: " in rows[host]["reason"] and "confidential VM(s) on this host" in rows[host]["reason"]
    assert rows["HV02"]["status"] == "compliant"
    assert {rows[h]["status"] for h in ("HV03", "HV04")} == {"not-applicable"}


def test_check_demo_table_prints_the_reason(tmp_path):
    text = _check(tmp_path, "--kb", "KB5061906")
    hv01 = next(line for line in text.splitlines() if line.startswith("HV01"))
    assert "needs-update" in hv01 and "confidential VM(s)" in hv01
