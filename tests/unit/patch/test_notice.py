"""The stakeholder notice names the window, the order and the impact per VM."""

from __future__ import annotations

from datetime import datetime, timezone

from hvconsole.core.patch.notice import AffectedVm, compose_notice, estimate_end
from hvconsole.core.patch.plan import HealthGate, PatchPlan, VmHandling, Wave


def test_notice_text():
    plan = PatchPlan(kb="KB5061906", waves=(Wave("pilot", ("HV03",)), Wave("production", ("HV01", "HV02"), parallel=2)),
                     vm_overrides={"id-sql": VmHandling("live-migrate", "HV04")},
                     window_start=datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc), gate=HealthGate(soak_minutes=30))
    # pilot 45 min + soak 30 min + production (2 hosts in parallel) 45 min
    assert estimate_end(plan) == datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)
    text = compose_notice(plan, "VMs stop responding", [
        AffectedVm("id-sql", "SQL01", "HV03", "Running"), AffectedVm("id-web", "WEB01", "HV01", "Running"),
        AffectedVm("id-web2", "SQL01", "HV01", "Running"),   # same name, other VM: not migrated
        AffectedVm("id-old", "OLD", "HV01", "Off"), AffectedVm("id-x", "ELSEWHERE", "HV09", "Running")],
        contact="it-ops@example.org")
    assert "Thursday 26 November 2026, 22:00 UTC until about Friday 27 November, 00:00 UTC" in text
    # The wizard's words: the first wave is the test ring, then production waves.
    assert "1. HV03 (test ring: patched first, then watched for 30 minutes before anything else)" in text
    assert "2. HV01, HV02 (production wave 1, after the test ring passes its health check)" in text
    assert "pilot" not in text
    assert "SQL01 (on HV03): moved to another host while running" in text
    assert "WEB01 (on HV01): saved before the host restarts" in text
    assert "SQL01 (on HV01): saved before the host restarts" in text
    assert "the rollout stops" in text
    assert "OLD" not in text and "ELSEWHERE" not in text
    assert text.rstrip().endswith("Questions: it-ops@example.org")


def test_window_given_in_another_zone_and_continue_on_failure():
    from datetime import timedelta
    cet = timezone(timedelta(hours=1))
    plan = PatchPlan(kb="KB1", waves=(Wave("pilot", ("HV01",)),), window_start=datetime(2026, 11, 26, 20, 0, tzinfo=cet),
                     stop_on_failure=False)
    text = compose_notice(plan, "fix", [])
    assert "26 November 2026, 19:00 UTC until about 19:45 UTC" in text
    assert "rollout continues with the others" in text
