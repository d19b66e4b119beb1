"""The Recover… dialog driven with pytest-qt against the embedded demo site
(``hvconsole.site.open_demo_site``: SQL-PROD-02 on HV01 freezes at 35 s), through the real
client and scripts: the frozen VM to a verified running VM with evidence captured and the
incident record written; a VM stuck in Stopping (its worker ended only after Turn off
failed); a wedged VMMS; the hard steps impossible without the typed name; a hostile name
shown as plain text. Host actions are counted in the simulated host."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.recovery import rules
from hvconsole.sim.scenarios.demo import FREEZE_AT_S, FREEZE_VM
from hvconsole.sim.serve import LATENCY_SCALE_ENV
from hvconsole.site import open_demo_site
from hvconsole.ui.recovery import open_recovery

pytestmark = pytest.mark.timeout(300)
# Host seconds per real second. What these tests prove is judged in host time (the VM's
# state, heartbeat and uptime, the steps' own wait budgets), so the demo runs fast; its
# hosts' latencies (powershell.exe start-up, Get-VM) are cut to a fifth for the same reason.
SPEED = 60.0
LATENCY_SCALE = 0.2
STEP_TIMEOUT_MS = 120_000


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("HVCONSOLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(LATENCY_SCALE_ENV, str(LATENCY_SCALE))
    site = open_demo_site(name="demo-patch", speed=SPEED)
    try:
        yield site
    finally:
        site.close()


def sim(site):
    return site.embedded.site


def wait_sim(site, t: float) -> None:
    deadline = time.monotonic() + 60
    while sim(site).t < t and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim(site).t >= t


def actions(site, host: str, vm_id: str | None = None) -> list[str]:
    with sim(site).lock:
        return [a for _, a, v in sim(site).host(host).recovery_actions if vm_id is None or v == vm_id]


def idle(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.busy and dialog.engine is not None, timeout=STEP_TIMEOUT_MS)


def click_next(qtbot, dialog, expected: str) -> str:
    assert dialog.proposed() == expected, (dialog.proposed(), dialog.log_lines)
    with qtbot.waitSignal(dialog.step_done, timeout=STEP_TIMEOUT_MS) as blocker:
        dialog.next_button.click()
    step, outcome = blocker.args
    assert step == expected
    idle(qtbot, dialog)
    return outcome


def test_frozen_demo_vm_recovered_and_verified(qtbot, demo):
    wait_sim(demo, FREEZE_AT_S + 15)
    with sim(demo).lock:
        vm = sim(demo).vm(FREEZE_VM)
        vm_id = vm.id
    registry = MaintenanceRegistry()
    # The window's detector, as Verify sees it: the finding clears a little after the VM
    # is back (here: at the third question), and Verify waits for that.
    asked: list[int] = []

    def finding_open() -> bool:
        asked.append(1)
        return len(asked) < 3
    dialog = open_recovery(None, demo, "HV01", vm_id, maintenance=registry, finding_open=finding_open)
    qtbot.addWidget(dialog)
    idle(qtbot, dialog)
    assert dialog.observation.situation == "frozen"
    assert dialog.vm_name == FREEZE_VM
    assert click_next(qtbot, dialog, rules.CAPTURE) == rules.OK
    # The hard step is proposed, and impossible without the typed name: its button and
    # Next are disabled, and running it anyway (as a stray click would) is refused by the
    # engine with nothing done on the host.
    assert dialog.proposed() == rules.TURN_OFF
    assert not dialog.step_buttons[rules.TURN_OFF].isEnabled() and not dialog.next_button.isEnabled()
    assert not dialog.step_buttons[rules.SHUTDOWN].isEnabled()
    assert "does not answer its shutdown service" in dialog.step_reasons[rules.SHUTDOWN].text()
    dialog.step_buttons[rules.TURN_OFF].click()
    assert not dialog.busy
    qtbot.keyClicks(dialog.confirm_edit, FREEZE_VM.lower())
    assert not dialog.step_buttons[rules.TURN_OFF].isEnabled()
    dialog.run_step(rules.TURN_OFF)
    idle(qtbot, dialog)
    assert "needs confirmation" in (dialog.error or "")
    assert actions(demo, "HV01", vm_id) == []
    dialog.confirm_edit.clear()
    qtbot.keyClicks(dialog.confirm_edit, FREEZE_VM)
    assert dialog.step_buttons[rules.TURN_OFF].isEnabled()
    assert "pulling the power cord" in dialog.risk_label.text()
    assert click_next(qtbot, dialog, rules.TURN_OFF) == rules.OK
    assert dialog.confirm_edit.text() == ""          # each hard step confirmed on its own
    assert click_next(qtbot, dialog, rules.START) == rules.OK
    assert click_next(qtbot, dialog, rules.VERIFY) == rules.OK
    assert len(asked) >= 3 and "finding has cleared" in dialog.log_lines[-1]
    assert dialog.before_after.text().startswith("Before: Running, heartbeat Lost Communication")
    assert "After: Running, heartbeat OK" in dialog.before_after.text()
    # Uptime reads as an admin says it ("18 d 13 h", "4 min"), never as raw seconds.
    assert not re.search(r"uptime \d{3,} s", dialog.before_after.text()), dialog.before_after.text()
    assert actions(demo, "HV01", vm_id) == ["turn_off", "start"]
    assert registry.windows() == []                   # the detector is silenced only while a step runs
    json_path, html_path = dialog.engine.record_paths
    record = json.loads(Path(json_path).read_text())
    assert record["incident"]["state"] == "recovered"
    assert record["before"]["heartbeat"] == "Lost Communication" and record["after"]["heartbeat"] == "OK"
    capture = record["steps"][0]
    assert capture["step"] == "capture" and capture["evidence"]["worker"]["pid"]
    assert any(e["id"] == 18606 for e in capture["evidence"]["events"])
    assert Path(html_path).read_text().startswith("<!DOCTYPE html>")
    dialog.close()


def test_stuck_in_stopping_worker_ended_after_turn_off_failed(qtbot, demo):
    wait_sim(demo, 5)
    with sim(demo).acting():
        vm = next(v for v in sim(demo).host("HV01").vms if v.state == "Running" and v.name != FREEZE_VM)
        vm.stick("Stopping")
        vm.worker_hung = True
        vm_id, name = vm.id, vm.name
    dialog = open_recovery(None, demo, "HV01", vm_id)
    qtbot.addWidget(dialog)
    idle(qtbot, dialog)
    assert dialog.observation.situation == "stuck"
    dialog.capture_box.setChecked(False)              # evidence is skippable
    assert not dialog.step_buttons[rules.END_WORKER].isEnabled()
    assert "Turn off has not been tried" in dialog.step_reasons[rules.END_WORKER].text()
    qtbot.keyClicks(dialog.confirm_edit, name)
    assert click_next(qtbot, dialog, rules.TURN_OFF) == rules.FAILED
    assert dialog.proposed() == rules.END_WORKER
    assert not dialog.step_buttons[rules.END_WORKER].isEnabled()   # typed again for this step
    qtbot.keyClicks(dialog.confirm_edit, name)
    assert click_next(qtbot, dialog, rules.END_WORKER) == rules.OK
    assert click_next(qtbot, dialog, rules.START) == rules.OK
    assert click_next(qtbot, dialog, rules.VERIFY) == rules.OK
    assert actions(demo, "HV01", vm_id) == ["turn_off", "end_worker", "start"]
    dialog.close()


def test_wedged_vmms_restarted(qtbot, demo):
    wait_sim(demo, 5)
    with sim(demo).acting():
        host = sim(demo).host("HV02")
        vm = next(v for v in host.vms if v.state == "Running")
        host.wedge_vmms()
        vm_id = vm.id
    dialog = open_recovery(None, demo, "HV02", vm_id, vm_name=vm.name)
    qtbot.addWidget(dialog)
    idle(qtbot, dialog)
    assert dialog.observation.situation == "vmms-wedged"
    assert "running VMs running" in dialog.state_label.text()
    dialog.capture_box.setChecked(False)
    assert dialog.proposed() == rules.RESTART_VMMS
    qtbot.keyClicks(dialog.confirm_edit, vm.name)     # the VM's name does not confirm a host step
    assert not dialog.step_buttons[rules.RESTART_VMMS].isEnabled()
    dialog.confirm_edit.clear()
    qtbot.keyClicks(dialog.confirm_edit, "HV02")
    assert click_next(qtbot, dialog, rules.RESTART_VMMS) == rules.OK
    assert dialog.observation.vmms_ok and dialog.observation.state == "Running"
    assert click_next(qtbot, dialog, rules.VERIFY) == rules.OK
    assert actions(demo, "HV02") == ["restart_vmms"]
    dialog.close()


def test_hostile_name_is_plain_text_and_confirms_as_shown(qtbot, demo):
    hostile = "<b>x</b>'; $(Stop-Computer)\n\"&amp;"
    wait_sim(demo, 5)
    with sim(demo).acting():
        vm = next(v for v in sim(demo).host("HV03").vms if v.state == "Running")
        vm.name = hostile
        vm.hang("flat", heartbeat_delay_s=0.0)
        vm_id = vm.id
    wait_sim(demo, sim(demo).t + 2)
    dialog = open_recovery(None, demo, "HV03", vm_id)
    qtbot.addWidget(dialog)
    idle(qtbot, dialog)
    assert dialog.vm_name == hostile
    assert dialog.title.textFormat().name == "PlainText" and hostile in dialog.title.text()
    dialog.capture_box.setChecked(False)
    qtbot.keyClicks(dialog.confirm_edit, rules.typeable(hostile))   # a newline cannot be typed
    assert click_next(qtbot, dialog, rules.TURN_OFF) == rules.OK
    html_text = Path(dialog.engine.record_paths[1]).read_text()
    assert "<b>x</b>" not in html_text and "&lt;b&gt;x&lt;/b&gt;" in html_text
    dialog.close()


def test_an_interrupted_recovery_is_offered_to_continue(qtbot, demo):
    """What a console killed mid-step leaves (an intent without outcome; the CLI kill test
    does it with a real SIGKILL): the next Recover… picks the incident up, settles the step
    from the host and says so; nothing is repeated."""
    from hvconsole.recovery.engine import journal_for
    wait_sim(demo, FREEZE_AT_S + 15)
    with sim(demo).lock:
        vm_id = sim(demo).vm(FREEZE_VM).id
    journal = journal_for(demo)
    incident = journal.create_incident("HV01", vm_id, FREEZE_VM)
    journal.begin(incident, rules.TURN_OFF, {"why": "before the crash"})
    with sim(demo).acting():
        sim(demo).vm(FREEZE_VM).turn_off()           # the host had acted before the console died
    dialog = open_recovery(None, demo, "HV01", vm_id)
    qtbot.addWidget(dialog)
    idle(qtbot, dialog)
    assert dialog.banner.isVisible()
    assert f"incident {incident}" in dialog.banner.text() and "Turn off" in dialog.banner.text()
    assert dialog.engine.journal.actions(incident)[0].outcome == rules.INTERRUPTED
    dialog.capture_box.setChecked(False)
    assert dialog.proposed() == rules.START
    assert click_next(qtbot, dialog, rules.START) == rules.OK
    assert click_next(qtbot, dialog, rules.VERIFY) == rules.OK
    assert actions(demo, "HV01", vm_id) == ["start"]
    dialog.close()
