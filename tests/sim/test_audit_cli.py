"""``hvconsole audit`` as an admin runs it: a subprocess that starts the demo site on
loopback, audits every host through the real client and prints the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

RUN_TIMEOUT_S = 180   # generous: the subprocess starts the whole demo site
SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "contracts" / "audit-v1.schema.json").read_text())


def hvconsole(*args: str, home=None) -> subprocess.CompletedProcess:
    # The simulated hosts' latencies at a fifth: these tests check outputs, not timings.
    env = dict(os.environ, HVCONSOLE_SIM_LATENCY_SCALE="0.2")
    if home is not None:
        env["HVCONSOLE_HOME"] = str(home)
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, env=env)


def test_audit_demo_json_validates_against_the_schema():
    done = hvconsole("audit", "--demo", "--json")
    assert done.returncode == 1, done.stderr          # HV01 is below the catalog target: critical
    doc = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    assert [h["host"] for h in doc["hosts"]] == ["HV01", "HV02", "HV03", "HV04"]
    assert all(h["reachable"] for h in doc["hosts"])
    kinds = {p["rule"] for h in doc["hosts"] for p in h["problems"]}
    assert len(kinds) >= 5
    bpa = [p for h in doc["hosts"] for p in h["problems"] if p["origin"] == "host-bpa"]
    assert bpa and all(p["host"] == "HV03" for p in bpa)


def test_audit_text_fits_100_columns_and_fail_on_decides_the_exit_code():
    done = hvconsole("audit", "--demo", "HV02", "--fail-on", "critical")
    assert done.returncode == 0, done.stderr + done.stdout   # HV02: warnings only
    lines = done.stdout.splitlines()
    assert lines[0].startswith("HV02: 0 critical")
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert "boot-storm" in done.stdout and "fix: " in done.stdout
    warned = hvconsole("audit", "--demo", "HV02", "--fail-on", "warning", "--no-fix")
    assert warned.returncode == 1 and "fix: " not in warned.stdout


def test_audit_bad_input_is_one_clear_message(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"checkpoint_age_dayz": 3}')
    done = hvconsole("audit", "--demo", "--thresholds", str(bad))
    assert done.returncode == 2 and "did you mean 'checkpoint_age_days'" in done.stderr
    assert "Traceback" not in done.stderr
    nohost = hvconsole("audit", "--demo", "NOPE")
    assert nohost.returncode == 2 and "the hosts are: HV01, HV02, HV03, HV04" in nohost.stderr
    empty = hvconsole("audit", home=tmp_path)
    assert empty.returncode == 2 and "Traceback" not in empty.stderr


def test_audit_screenshot_saves_the_view(tmp_path):
    out = tmp_path / "health.png"
    done = hvconsole("audit", "--demo", "HV03", "--fail-on", "never", "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
