"""The recovery engine end to end against the recovery scenario (sim/scenarios/recovery.py),
through the real WinRM client and the real ``recover_*.ps1`` scripts recognised by the
simulated hosts: a hung guest (gentle way impossible, Turn off, Start, verified), a VM
stuck in Stopping (Turn off fails, the worker is ended, Start, verified), a wedged VMMS
(restart, queries answer, the VM behind it kept running), the ordering and confirmation
rules enforced by the engine, and no host action applied twice (counted in the sim)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.recovery import rules
from hvconsole.core.recovery.journal import RecoveryJournal
from hvconsole.recovery.engine import StepRefused, record_folder
from hvconsole.recovery.host_api import SCRIPTS, RecoveryHost
from hvconsole.recovery.engine import RecoveryEngine
from hvconsole.remote.session import HostSession
from hvconsole.site import site_for_served
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.recovery import HANG_AT_S, HOSTILE_NAME, build_recovery_site, vm_id
from hvconsole.sim.serve import ServedSite, serve_site

SPEED = 40.0


@contextlib.contextmanager
def served(speed: float = SPEED) -> Iterator[ServedSite]:
    site = serve_site(build_recovery_site(SimClock(speed=speed)), latency_scale=0.05)
    try:
        deadline = time.monotonic() + 30
        while site.site.t < HANG_AT_S + 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        with site.site.acting():
            pass
        yield site
    finally:
        site.stop()


def engine(site: ServedSite, host: str, n: int, tmp_path: Path, maintenance=None, events=None) -> RecoveryEngine:
    demo = site_for_served(site)
    target = demo.target(host)
    api = RecoveryHost(host, HostSession(target, scripts=SCRIPTS), speed=demo.speed)
    journal = RecoveryJournal(tmp_path / "recovery-journal.sqlite")
    return RecoveryEngine(journal, api, vm_id(n), speed=demo.speed, clock=demo.clock, maintenance=maintenance,
                          progress=None if events is None else (lambda k, d: events.append((k, dict(d)))))


def actions(site: ServedSite, host: str, vm: int | None = None) -> list[str]:
    with site.site.lock:
        return [a for _, a, v in site.host(host).sim.recovery_actions if vm is None or v == vm_id(vm)]


def test_hung_guest_turned_off_started_and_verified(tmp_path):
    with served() as site:
        registry = MaintenanceRegistry()
        silenced: dict[str, list] = {}

        class Listener(list):
            def append(self, item):
                kind, data = item
                if kind == "step-started":
                    silenced[data["step"]] = [(w.host, w.vm_id, w.reason) for w in registry.windows()]
                super().append(item)
        events = Listener()
        eng = engine(site, "HV01", 1, tmp_path, maintenance=registry, events=events)
        obs = eng.open()
        assert obs.situation == "frozen" and obs.heartbeat == "Lost Communication"
        assert obs.worker_pid is not None
        offers = eng.offers()
        assert not offers[rules.SHUTDOWN].allowed and "does not answer" in offers[rules.SHUTDOWN].reason
        assert offers[rules.TURN_OFF].allowed and offers[rules.TURN_OFF].recommended
        assert not offers[rules.END_WORKER].allowed
        capture = eng.run(rules.CAPTURE)
        assert capture.outcome == rules.OK
        assert any(e["id"] == 18606 for e in eng.journal.actions(eng.incident_id)[0].evidence["events"])
        # A hard step without (or with a wrong) typed name is refused and nothing happens.
        for typed in (None, "", "app-hung", "APP-HUNG2"):
            with pytest.raises(StepRefused, match="confirmation"):
                eng.run(rules.TURN_OFF, typed)
        assert actions(site, "HV01", 1) == []
        assert eng.run(rules.TURN_OFF, "APP-HUNG").outcome == rules.OK
        assert eng.recommended() == rules.START
        assert eng.run(rules.START).outcome == rules.OK
        verified = eng.run(rules.VERIFY)
        assert verified.outcome == rules.OK, verified.summary
        assert actions(site, "HV01", 1) == ["turn_off", "start"]
        incident = eng.journal.incident(eng.incident_id)
        assert incident.state == "recovered"
        record = json.loads((record_folder(eng.journal) / f"incident-{incident.id}.json").read_text())
        assert record["before"]["heartbeat"] == "Lost Communication" and record["after"]["heartbeat"] == "OK"
        assert [s["step"] for s in record["steps"]] == ["capture", "turn_off", "start", "verify"]
        # The detector was silenced for that VM only while an acting step ran (not while
        # reading, and not while verifying: the finding must be able to clear).
        assert silenced["turn_off"] == [("HV01", vm_id(1), "recovery: Turn off")]
        assert silenced["start"] == [("HV01", vm_id(1), "recovery: Start")]
        assert silenced["capture"] == [] and silenced["verify"] == []
        assert registry.windows() == []
        assert any(k == "step-started" for k, _ in events)


def test_stuck_in_stopping_worker_ended_only_after_turn_off_failed(tmp_path):
    with served() as site:
        eng = engine(site, "HV01", 2, tmp_path)
        obs = eng.open()
        assert obs.situation == "stuck" and obs.state == "Stopping"
        offers = eng.offers()
        assert not offers[rules.SHUTDOWN].allowed
        assert not offers[rules.END_WORKER].allowed and "Turn off has not been tried" in offers[rules.END_WORKER].reason
        with pytest.raises(StepRefused):
            eng.run(rules.END_WORKER, "APP-STOPPING")
        failed = eng.run(rules.TURN_OFF, "APP-STOPPING")
        assert failed.outcome == rules.FAILED
        assert eng.offers()[rules.END_WORKER].allowed and eng.recommended() == rules.END_WORKER
        with pytest.raises(StepRefused, match="confirmation"):
            eng.run(rules.END_WORKER, "app-stopping")
        assert eng.run(rules.END_WORKER, "APP-STOPPING").outcome == rules.OK
        assert eng.observation.state == "Off"
        assert eng.run(rules.START).outcome == rules.OK
        assert eng.run(rules.VERIFY).outcome == rules.OK
        assert actions(site, "HV01", 2) == ["turn_off", "end_worker", "start"]


def test_wedged_vmms_restarted_vm_kept_running(tmp_path):
    with served() as site:
        eng = engine(site, "HV02", 5, tmp_path)
        obs = eng.open()
        assert obs.situation == "vmms-wedged"
        offers = eng.offers()
        assert offers[rules.RESTART_VMMS].recommended and not offers[rules.TURN_OFF].allowed
        with pytest.raises(StepRefused, match="name of the host"):
            eng.run(rules.RESTART_VMMS, "DB-01")
        result = eng.run(rules.RESTART_VMMS, "HV02")
        assert result.outcome == rules.OK, result.summary
        assert eng.observation.vmms_ok and eng.observation.state == "Running"
        assert eng.run(rules.VERIFY).outcome == rules.OK
        assert actions(site, "HV02") == ["restart_vmms"]
        with site.site.lock:
            assert site.host("HV02").sim.vm("DB-01").state == "Running"


def test_hostile_name_is_inert_in_scripts_journal_and_html(tmp_path):
    with served() as site:
        eng = engine(site, "HV01", 4, tmp_path)
        obs = eng.open()
        assert obs.vm_name == HOSTILE_NAME
        assert eng.run(rules.TURN_OFF, HOSTILE_NAME).outcome == rules.OK
        assert actions(site, "HV01", 4) == ["turn_off"]
        incident = eng.journal.incident(eng.incident_id)
        assert incident.vm_name == HOSTILE_NAME
        html_text = (record_folder(eng.journal) / f"incident-{incident.id}.html").read_text()
        assert "<script>" not in html_text and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
        record = json.loads((record_folder(eng.journal) / f"incident-{incident.id}.json").read_text())
        assert record["incident"]["vm_name"] == HOSTILE_NAME


def test_resume_after_a_crash_settles_the_step_from_the_host_and_never_repeats_it(tmp_path):
    with served() as site:
        eng = engine(site, "HV01", 1, tmp_path)
        eng.open()
        # A console that died after the turn-off reached the host but before its outcome
        # was written: the intent row is there, the host has acted.
        action = eng.journal.begin(eng.incident_id, rules.TURN_OFF, {"why": "test"})
        with site.site.acting():
            site.host("HV01").sim.vm("APP-HUNG").turn_off()
        again = engine(site, "HV01", 1, tmp_path)
        obs = again.open()
        assert again.continued and [a.id for a in again.interrupted] == [action]
        assert obs.state == "Off"
        assert again.journal.actions(again.incident_id)[-1].outcome == rules.INTERRUPTED
        assert again.recommended() == rules.START
        with pytest.raises(StepRefused):
            again.run(rules.TURN_OFF, "APP-HUNG")
        assert again.run(rules.START).outcome == rules.OK
        assert actions(site, "HV01", 1) == ["start"]


def test_nmi_dump_then_the_guest_restarts_on_its_own_and_nothing_hard_follows(tmp_path):
    with served() as site:
        eng = engine(site, "HV01", 1, tmp_path)
        eng.open()
        assert eng.offers()[rules.NMI].allowed and rules.NMI in rules.HARD_STEPS
        with pytest.raises(StepRefused, match="confirmation"):
            eng.run(rules.NMI)
        assert eng.run(rules.NMI, "APP-HUNG").outcome == rules.OK
        # A Windows guest set to bugcheck on NMI writes its dump and restarts: the next
        # capture shows the "dump written" event, and Verify finds it back without Turn off.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            captured = eng.run(rules.CAPTURE)
            events = eng.journal.actions(eng.incident_id)[-1].evidence["events"]
            if any("memory dump" in e["message"] for e in events):
                break
            time.sleep(0.2)
        assert any("memory dump" in e["message"] for e in events), captured.summary
        assert eng.run(rules.VERIFY).outcome == rules.OK
        assert actions(site, "HV01", 1) == ["nmi"]
