"""hvconsole agent: the window's poll worker on threads, /metrics through prometheus_client
(names, units, bounded labels, hostile names), stopping, its command line and the shipped
service files."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hvconsole.agent.metrics import LABEL_MAX, AgentCollector
from hvconsole.agent.runner import AgentRunner
from hvconsole.cli import build_parser
from hvconsole.cli.agent import parse_listen
from hvconsole.core.detector import Detector
from hvconsole.core.snapshot import HostResources, OsInfo, Snapshot, VmQuery, VmSample, unreachable
from hvconsole.monitoring.host_worker import HostWorker

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "resources" / "prometheus"
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
HOSTILE = 'evil"\\\n} 1\nhvconsole_host_up{host="x'


class FakeCollector:
    """Stands in for the WinRM collector: hands out prepared snapshots."""

    def __init__(self, snaps):
        self.snaps = list(snaps)
        self.closed = False

    def poll(self, cancel=None) -> Snapshot:
        return self.snaps.pop(0) if len(self.snaps) > 1 else self.snaps[0]

    def close(self) -> None:
        self.closed = True


def vm(i: int, name: str, state: str = "Running", heartbeat: str | None = "OkApplicationsHealthy") -> VmSample:
    return VmSample(id=f"00000000-0000-0000-0000-{i:012d}", name=name, state=state, heartbeat=heartbeat,
                    cpu_pct=25.0, memory_assigned_mb=4096, memory_demand_mb=2048, uptime_s=3600)


def host_snap(name: str, vms, at: datetime = T0) -> Snapshot:
    return Snapshot(host=name, polled_at=at, reachable=True,
                    os=OsInfo(product="Windows Server 2022 Datacenter", build=20348, ubr=3692, pending_reboot=False),
                    resources=HostResources(cpu_total_run_pct=40.0, memory_total_mb=262144,
                                            memory_available_mb=131072, storage_read_bps=1000.0,
                                            storage_latency_ms=2.5, network_rx_bps=500.0),
                    vm_query=VmQuery(ok=True), vms=tuple(vms))


def worker(name: str, snaps) -> HostWorker:
    return HostWorker(name, f"{name.lower()}.example.test", collector_factory=lambda: FakeCollector(snaps),
                      detector_factory=Detector)


def scrape(runner: AgentRunner, **kw) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(runner, version="9.9", **kw))
    text = generate_latest(registry).decode()
    samples: dict = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def test_metrics_follow_prometheus_units_and_carry_the_window_s_view() -> None:
    runner = AgentRunner([worker("HV01", [host_snap("HV01", [vm(1, "SQL-01"), vm(2, "DEV-01", "Off", None)])]),
                          worker("HV02", [unreachable("HV02", T0, "timeout", "no answer in 10 s")])])
    runner.poll_all_once()
    m = scrape(runner)
    up = {labels["host"]: v for labels, v in m["hvconsole_host_up"]}
    assert up == {"HV01": 1.0, "HV02": 0.0}
    assert m["hvconsole_host_cpu_usage_ratio"] == [({"host": "HV01"}, 0.4)]          # ratio, not percent
    assert m["hvconsole_host_memory_total_bytes"] == [({"host": "HV01"}, 262144 * 2**20)]
    assert m["hvconsole_host_storage_latency_seconds"] == [({"host": "HV01"}, 0.0025)]
    assert m["hvconsole_host_os_info"] == [({"host": "HV01", "build": "20348.3692"}, 1.0)]
    states = {labels["vm"]: labels["state"] for labels, _ in m["hvconsole_vm_state"]}
    assert states == {"SQL-01": "Running", "DEV-01": "Off"}
    hb_ok = {labels["vm"]: v for labels, v in m["hvconsole_vm_heartbeat_ok"]}
    assert hb_ok == {"SQL-01": 1.0}                         # no heartbeat: absent, not 0
    assert ({"host": "HV01", "vm": "SQL-01", "vm_id": "00000000-0000-0000-0000-000000000001"}, 0.25) \
        in m["hvconsole_vm_cpu_usage_ratio"]
    assert m["hvconsole_agent_polls_total"] == [({"host": "HV01"}, 1.0), ({"host": "HV02"}, 1.0)]
    assert ({"host": "HV02"}, 1.0) in m["hvconsole_agent_poll_failures_total"]
    assert m["hvconsole_agent_info"] == [({"version": "9.9"}, 1.0)]
    # No host resources or VMs invented for the host that did not answer.
    assert all(labels["host"] != "HV02" for labels, _ in m["hvconsole_host_cpu_usage_ratio"])


def test_a_frozen_vm_is_an_active_finding_with_bounded_labels() -> None:
    snaps = [host_snap("HV01", [vm(1, "SQL-01", heartbeat="OkApplicationsHealthy")], T0)]
    snaps += [host_snap("HV01", [vm(1, "SQL-01", heartbeat="LostCommunication")], T0 + timedelta(seconds=5 * i))
              for i in range(1, 12)]
    w = worker("HV01", snaps)
    runner = AgentRunner([w])
    for _ in snaps:
        runner.poll_all_once()
    m = scrape(runner)
    findings = m["hvconsole_finding_active"]
    assert findings and all(set(labels) == {"host", "vm", "kind", "severity"} for labels, _ in findings)
    kinds = {labels["kind"] for labels, _ in findings}
    assert kinds & {"heartbeat-lost", "heartbeat-lost-cpu-flat", "heartbeat-lost-cpu-pegged"}
    assert {labels["vm"] for labels, _ in findings} == {"SQL-01"}


def test_hostile_names_stay_label_values_and_cardinality_is_capped() -> None:
    vms = [vm(1, HOSTILE), vm(2, "x" * 500), vm(3, "odd", state="SomethingNew", heartbeat="Weird")]
    runner = AgentRunner([worker("HV01", [host_snap("HV01", vms)])])
    runner.poll_all_once()
    m = scrape(runner)
    names = [labels["vm"] for labels, _ in m["hvconsole_vm_state"]]
    assert names == [HOSTILE, "x" * LABEL_MAX, "odd"]               # escaped, read back intact
    assert [labels["host"] for labels, _ in m["hvconsole_host_up"]] == ["HV01"]   # nothing injected
    assert ({"host": "HV01", "vm": "odd", "vm_id": "00000000-0000-0000-0000-000000000003", "state": "Other"}, 1.0) \
        in m["hvconsole_vm_state"]
    assert any(labels["status"] == "Other" for labels, _ in m["hvconsole_vm_heartbeat"])
    capped = scrape(runner, max_vms=1)
    assert len(capped["hvconsole_vm_state"]) == 1
    assert capped["hvconsole_agent_vms_not_exported"] == [({}, 2.0)]


def test_the_agent_s_schedule_is_the_window_s() -> None:
    from hvconsole.agent import runner
    from hvconsole.monitoring import schedule
    from hvconsole.ui.monitor import polling  # Qt, for comparison only
    assert runner.next_delay_s is schedule.next_delay_s is polling.next_delay_s
    assert runner.own_interval is schedule.own_interval is polling.own_interval


class BlockingWorker:
    """A host that never answers: its poll returns only when cancelled."""

    name = "HUNG"

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.started = threading.Event()

    def poll_once(self, cancel):
        self.started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        raise RuntimeError("cancelled")

    def close(self) -> None:
        self.closed.set()


def test_stopping_cancels_a_poll_in_flight_and_closes_the_session() -> None:
    w = BlockingWorker()
    runner = AgentRunner([w], interval_s=0.1)
    runner.start()
    assert w.started.wait(10)
    started = time.monotonic()
    assert runner.stop(wait_s=10)
    assert time.monotonic() - started < 5
    assert w.closed.is_set()
    assert runner.states()[0].failures_total == 1


def test_the_agent_imports_no_qt() -> None:
    code = ("import sys, hvconsole.cli.agent, hvconsole.agent.runner, hvconsole.agent.metrics;"
            "from hvconsole.monitoring.workers import site_workers;"
            "import hvconsole.monitoring.host_worker, hvconsole.monitoring.host_compliance, hvconsole.monitoring.maintenance_feed;"
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:9617", ("127.0.0.1", 9617)), ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("[::1]:9617", ("::1", 9617)), ("localhost:80", ("localhost", 80))])
def test_listen_addresses(text, expected) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("argv, message", [
    (["--listen", "9617"], "--listen wants ADDRESS:PORT"),
    (["--listen", "example.com:9617"], "is not an IP address"),
    (["--listen", "127.0.0.1:99999"], "out of range"),
    (["--listen", "127.0.0.1:http"], "is not a port number"),
    (["--timeout", "0"], "--timeout must be above"),
    (["--demo", "--demo-speed", "-3"], "--demo-speed must be above"),
    (["--max-vms", "-1"], "--max-vms cannot be negative"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, message, capsys) -> None:
    args = build_parser().parse_args(["agent", *argv])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_agent_on_the_demo_serves_every_host_and_vm(tmp_path: Path, monkeypatch, capsys) -> None:
    """The command a user runs, in-process: the embedded demo site, real WinRM polls on
    loopback, /metrics over HTTP, then a clean stop that flushes the history file."""
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path))
    history = tmp_path / "history.sqlite"
    args = build_parser().parse_args(["agent", "--demo", "--demo-speed", "5", "--listen", "127.0.0.1:0",
                                      "--history", str(history)])
    stop = threading.Event()
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(args.handler(args, stop)))
    t.start()
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+/metrics", capsys.readouterr().out)
            url = found.group(0) if found else None
            time.sleep(0.1)
        assert url, "the agent did not say where it serves"
        up, vm_states = {}, []
        while time.monotonic() < deadline and (len(up) < 4 or len(vm_states) < 40):
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            fams = {f.name: f for f in text_string_to_metric_families(text)}
            up = {s.labels["host"]: s.value for s in fams["hvconsole_host_up"].samples}
            vm_states = fams["hvconsole_vm_state"].samples
            time.sleep(0.5)
        assert up == {"HV01": 1.0, "HV02": 1.0, "HV03": 1.0, "HV04": 1.0}
        assert len(vm_states) == 40
    finally:
        stop.set()
        t.join(60)
    assert result == [0]
    from hvconsole.core.historydb import HistoryReader
    with HistoryReader(history) as r:
        assert [h.name for h in r.hosts()] == ["HV01", "HV02", "HV03", "HV04"]


def test_dashboard_uses_only_metrics_the_agent_exports() -> None:
    runner = AgentRunner([worker("HV01", [host_snap("HV01", [vm(1, "A")])])])
    runner.poll_all_once()
    exported = set()
    for fam in AgentCollector(runner).collect():
        exported.add(fam.name + ("_total" if fam.type == "counter" else ""))
    exported.add("up")                                           # Prometheus' own
    dash = json.loads((PROM / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dash["annotations"]["list"]]
    exprs.append(dash["templating"]["list"][1]["definition"])
    rules = (PROM / "hvconsole-alerts.yml").read_text()
    used = set(re.findall(r"\b(hvconsole_[a-z_]+)\b", " ".join(exprs) + rules))
    assert used, "no metric found in the dashboard"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_the_systemd_unit_starts_a_valid_agent_command(tmp_path: Path) -> None:
    unit = (PROM / "hvconsole-agent.service").read_text()
    exec_start = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start)
    assert argv[0].endswith("hvconsole") and argv[1] == "agent"
    args = build_parser().parse_args(argv[1:])
    assert args.handler.__module__ == "hvconsole.cli.agent"
    assert parse_listen(args.listen)[0] == "127.0.0.1"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit's syntax was not verified")
    hv = shutil.which("hvconsole") or str(Path(sys.executable).with_name("hvconsole"))
    local = tmp_path / "hvconsole-agent.service"
    local.write_text(unit.replace("/usr/local/bin/hvconsole", hv).replace("User=hvconsole", "User=root"))
    out = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=60)
    problems = [line for line in out.stderr.splitlines() if str(local) in line]
    assert out.returncode == 0 and not problems, out.stderr
