"""The health check's live runs when the console's own clock is stepped (NTP after a resume,
an admin fixing the time): ``polled_at`` jumps while the host and its clock go on as before.

Through the real path: the simulated host's collect answer, the client's parser, the live
tracker, the simulated audit answer, its parser and the judge, with the audit judged at the
console's (stepped) time as the health service does. A step is no pressure watched: no false
finding because of it (a pre-patch health check would block the wave), none missed."""

from __future__ import annotations

from datetime import datetime, timedelta

from hvconsole.core.health import AuditContext, HealthThresholds, LiveTracker, Problem, judge_host, parse_audit
from hvconsole.core.snapshot import unreachable
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.sim.agent.audit import audit_document
from hvconsole.sim.agent.collect import CollectParams, collect_document
from hvconsole.sim.scenarios.audit import MISCONFIGURATIONS, build_well_set_site

HOUR = 3600.0


class Console:
    """The console watching one simulated host whose VM is short of memory the whole time;
    its clock is the site's plus whatever steps the test made."""

    def __init__(self, *, send_host_time: bool = True) -> None:
        self.site = build_well_set_site()
        self.host, self.vm = MISCONFIGURATIONS["memory-pressure"].apply(self.site)
        self.tracker = LiveTracker(self.host)
        self.skew = timedelta(0)
        self.send_host_time = send_host_time
        self.first_poll: datetime | None = None

    def now(self) -> datetime:
        return self.site.now() + self.skew

    def step(self, seconds: float) -> None:
        """The console's clock jumps; the host's does not."""
        self.skew += timedelta(seconds=seconds)

    def poll(self, minutes: float, every: float = 60.0) -> None:
        for _ in range(round(minutes * 60 / every)):
            self.site.clock.advance(every)
            self.site.advance()
            with self.site.acting() as t:
                doc, _ = collect_document(self.site.host(self.host), CollectParams(None, 0, 10000), t)
            if not self.send_host_time:
                doc.pop("host_time", None)
            snap = snapshot_from_answer(doc, self.host, self.now())[0]
            self.first_poll = self.first_poll or snap.polled_at
            self.tracker.observe(snap)

    def down(self, minutes: float, every: float = 60.0) -> None:
        """Polls that do not reach the host: they change no run, but time goes on."""
        for _ in range(round(minutes * 60 / every)):
            self.site.clock.advance(every)
            self.tracker.observe(unreachable(self.host, self.now(), "timeout", "no answer"))

    def pressure(self) -> list[Problem]:
        """The memory-pressure findings of a health check run now."""
        self.site.advance()
        with self.site.acting() as t:
            doc, _ = audit_document(self.site.host(self.host), {}, t)
        context = AuditContext(now=self.now(), live=self.tracker.view())
        judgement = judge_host(self.host, parse_audit(doc), HealthThresholds(), context)
        return [p for p in judgement.problems if p.rule == "memory-pressure"]


def test_a_health_check_right_after_a_step_forward_finds_no_hour_of_pressure():
    c = Console()
    c.poll(10)
    c.step(HOUR)
    assert c.pressure() == []           # 9 minutes watched, not 69


def test_a_step_forward_mid_run_is_not_pressure_but_a_real_run_is_still_found():
    c = Console()
    c.poll(10)
    c.step(HOUR)
    c.poll(10)
    assert c.pressure() == []           # 19 minutes watched
    c.poll(15)
    found = c.pressure()
    assert [p.vm_name for p in found] == [c.vm]
    # The admin reads the first poll's own stamp (the clock before the step), and how long was watched.
    assert "for 34 minutes since " + c.first_poll.strftime("%Y-%m-%d %H:%M UTC") in found[0].evidence


def test_a_step_forward_without_the_hosts_clock_is_not_pressure_either():
    c = Console(send_host_time=False)
    c.poll(10)
    c.step(HOUR)
    c.poll(5)
    assert c.pressure() == []


def test_a_step_back_does_not_hide_a_real_run():
    c = Console()
    c.poll(20)
    c.step(-HOUR)
    c.poll(15)
    found = c.pressure()
    assert [p.vm_name for p in found] == [c.vm]
    assert "for 34 minutes since " + c.first_poll.strftime("%Y-%m-%d %H:%M UTC") in found[0].evidence


def test_a_step_back_before_the_health_check_does_not_hide_a_run_either():
    c = Console()
    c.poll(40)
    c.step(-HOUR)
    assert [p.vm_name for p in c.pressure()] == [c.vm]


def test_a_step_forward_while_the_host_was_unreachable_is_not_pressure():
    c = Console()
    c.poll(10)
    c.down(5)
    c.step(HOUR)
    c.poll(5)
    assert c.pressure() == []           # 19 minutes watched, the outage included
    c.poll(15)
    assert [p.vm_name for p in c.pressure()] == [c.vm]
