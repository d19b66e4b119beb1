"""A real Prometheus (Debian package ``prometheus``) scraping ``hvconsole agent --demo``:
the demo's frozen VM comes back through a PromQL query and the shipped frozen-VM rule
fires (its `for:` shortened, see LIVE_FOR_S); ``promtool`` accepts the shipped rules and
config and passes their unit tests.

Skipped, saying why, when Prometheus is not installed (scripts/test.sh installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from hvconsole.sim.scenarios.demo import FREEZE_AT_S, FREEZE_VM
from hvconsole.sim.serve import LATENCY_SCALE_ENV

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "resources" / "prometheus"
PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
# The demo's VM freezes 35 simulated seconds in (about a second here); the detector still
# needs its polls in a row and its simulated seconds (20 s lost, 120 s for critical), so the
# speed and the poll interval only shorten the wait for them.
DEMO_SPEED = 30.0
POLL_S = 0.5         # the agent's poll interval: the detector's six polls in a row in 3 s
# The live test runs the shipped rules with one change: the frozen-VM rule's `for:` (30 s)
# cut to this. Its shipped timing is proven offline by the rules' unit tests
# (test_the_rules_unit_tests_pass); the live run proves the scrape, the expression, the
# labels and annotations, and that Prometheus holds the alert pending for its `for:`.
LIVE_FOR_S = 5

pytestmark = pytest.mark.integration
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=PROM)


@needs_promtool
def test_promtool_accepts_the_shipped_rules_and_config() -> None:
    rules = promtool("check", "rules", "hvconsole-alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "5 rules found" in rules.stdout
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
def test_the_rules_unit_tests_pass() -> None:
    """Alert timing offline: a freeze whose kind changes stays one alert, a finding that is
    not a freeze never alerts, an unreachable host and a needed update after their `for:`."""
    out = promtool("test", "rules", "tests/hvconsole-alerts-test.yml")
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: the same file with a PromQL error does not pass."""
    broken = tmp_path / "broken.yml"
    broken.write_text((PROM / "hvconsole-alerts.yml").read_text().replace("hvconsole_host_up == 0",
                                                                          "hvconsole_host_up == == 0"))
    out = subprocess.run([PROMTOOL, "check", "rules", str(broken)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@needs_prometheus
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_prometheus_sees_the_demo_freeze_and_the_rule_fires(tmp_path: Path) -> None:
    # The demo hosts' latencies at a fifth (LATENCY_SCALE_ENV): nothing here is timed but the for:.
    env = dict(os.environ, HVCONSOLE_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1", **{LATENCY_SCALE_ENV: "0.2"})
    agent = subprocess.Popen([sys.executable, "-m", "hvconsole", "agent", "--demo", "--demo-speed", str(DEMO_SPEED),
                              "--interval", str(POLL_S), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    prom = None
    started = time.monotonic()
    try:
        line = agent.stdout.readline()
        found = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", line)
        assert found, f"the agent did not start: {line!r} {agent.stderr.read() if agent.poll() is not None else ''}"
        target = found.group(1)

        rules = tmp_path / "hvconsole-alerts.yml"
        rules.write_text(_with_for(PROM / "hvconsole-alerts.yml", "HvconsoleVmFrozen", LIVE_FOR_S))
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules.name],                                # relative to the config file
            "scrape_configs": [{"job_name": "hvconsole", "static_configs": [{"targets": [target]}]}],
        }))
        port = _free_port()
        prom_log = tmp_path / "prometheus.log"
        with open(prom_log, "w") as log_file:
            prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}",
                                     f"--storage.tsdb.path={tmp_path / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                    stdout=subprocess.DEVNULL, stderr=log_file)
        api = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{api}/-/ready", timeout=2).read()
                break
            except OSError:
                assert prom.poll() is None, prom_log.read_text()
                assert time.monotonic() < deadline, "prometheus did not get ready"
                time.sleep(0.2)

        # The frozen VM through PromQL.
        rule_for_s = _for_seconds(rules, "HvconsoleVmFrozen")
        # Demo freeze (simulated seconds / speed), detection (6 polls and 20 simulated s),
        # the rule's for:, and generous slack for a loaded 2-core machine.
        budget_s = FREEZE_AT_S / DEMO_SPEED + 30 + rule_for_s + 120
        query = urllib.parse.quote(f'hvconsole_finding_active{{vm="{FREEZE_VM}",severity="critical"}} == 1')
        frozen = []
        while not frozen and time.monotonic() - started < budget_s:
            frozen = _get(f"{api}/api/v1/query?query={query}")["data"]["result"]
            time.sleep(0.5)
        assert frozen, f"Prometheus never saw {FREEZE_VM} frozen"
        assert frozen[0]["metric"]["host"] == "HV01"
        seen_at = time.monotonic()

        firing = []
        while not firing and time.monotonic() - started < budget_s:
            alerts = _get(f"{api}/api/v1/alerts")["data"]["alerts"]
            firing = [a for a in alerts if a["labels"].get("alertname") == "HvconsoleVmFrozen"
                      and a["labels"].get("vm") == FREEZE_VM and a["state"] == "firing"]
            time.sleep(0.5)
        assert firing, f"HvconsoleVmFrozen did not fire within {budget_s:.0f} s: {alerts}"
        assert time.monotonic() - seen_at >= rule_for_s - 2        # the for: was honoured
        labels = firing[0]["labels"]
        assert labels["host"] == "HV01" and labels["severity"] == "critical" and labels["job"] == "hvconsole"
        assert FREEZE_VM in firing[0]["annotations"]["summary"]
        # Nothing else fires on a healthy demo (update needed waits an hour).
        others = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"} - {"HvconsoleVmFrozen"}
        assert not others
        targets = _get(f"{api}/api/v1/targets")["data"]["activeTargets"]
        assert targets and targets[0]["health"] == "up"
    finally:
        if prom is not None:
            _stop(prom)
        _stop(agent)
        agent.stdout.close()
        agent.stderr.close()
    assert agent.returncode == 0                                       # SIGTERM is a clean stop


def _with_for(shipped: Path, alert: str, seconds: int) -> str:
    """The shipped rules file with ``alert``'s ``for:`` set to ``seconds`` (nothing else changed)."""
    doc = yaml.safe_load(shipped.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alert]
    assert len(rules) == 1 and "for" in rules[0], alert
    rules[0]["for"] = f"{seconds}s"
    return yaml.safe_dump(doc, sort_keys=False)


def _for_seconds(rules: Path, alert: str) -> float:
    doc = yaml.safe_load(rules.read_text())
    rule = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alert)
    m = re.fullmatch(r"(\d+)([smh])", rule["for"])
    assert m, rule["for"]
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
