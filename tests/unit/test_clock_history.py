"""SiteHistory when the console's own clock is stepped: back by more than the tolerance,
the series move back and go on (nothing dropped until the clock catches up); back by a
few seconds, the poll is out of order and dropped; forward, a gap."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostResources, Snapshot, VmSample, unreachable
from hvconsole.core.timeutil import CLOCK_STEP_BACK_S

T0 = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)
HOUR = 3600.0


class SteppingClock:
    """The console's wall clock: advances 5 s per poll, and can be stepped either way."""

    def __init__(self) -> None:
        self.now = T0

    def tick(self, seconds: float = 5.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def step(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def snap(at: datetime, cpu: float = 20.0, vm_ids: tuple[str, ...] = ("vm-a",),
         host_time: datetime | None = None) -> Snapshot:
    resources = HostResources(cpu_total_run_pct=cpu, memory_total_mb=65536.0, memory_available_mb=16384.0)
    vms = tuple(VmSample(id=i, name=i, state="Running", cpu_pct=cpu) for i in vm_ids)
    return Snapshot(host="HV01", polled_at=at, reachable=True, resources=resources, vms=vms,
                    host_time=host_time)


def feed(site: SiteHistory, clock: SteppingClock, polls: int, cpu: float = 20.0,
         vm_ids: tuple[str, ...] = ("vm-a",)) -> list[bool]:
    return [site.add(snap(clock.tick(), cpu, vm_ids)) for _ in range(polls)]


def test_a_step_back_of_an_hour_keeps_every_poll_and_moves_the_old_rows_back():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    feed(site, clock, 10, cpu=20.0)
    clock.step(-HOUR)
    assert all(feed(site, clock, 10, cpu=60.0))     # not one poll dropped
    assert site.dropped_out_of_order == 0 and site.clock_steps_back == 1
    host = site.host("HV01")
    times, values = host.buffer.view()
    cpu = values[0]
    assert len(times) == 20 and np.all(np.diff(times) > 0)
    assert host.last_time == clock.now.timestamp() == times[-1]   # the graphs' right edge moves on
    # Continuous: the old rows end one poll interval before the first new one, no gap row.
    assert np.allclose(np.diff(times), 5.0)
    assert not np.isnan(cpu).any() and list(cpu[:10]) == [20.0] * 10 and list(cpu[10:]) == [60.0] * 10
    vm_times, vm_values = site.vm("vm-a").buffer.view()
    assert list(vm_times) == list(times) and list(vm_values[0]) == list(cpu)
    assert site.vm("vm-a").last_seen == clock.now
    assert host.buffer.shifts == 1      # tells a reader holding old rows to read them again


def test_a_small_step_back_is_out_of_order_and_dropped_for_at_most_that_long():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    feed(site, clock, 3)
    clock.step(-(CLOCK_STEP_BACK_S - 10))
    added = feed(site, clock, 6)
    # Dropped until the clock is back at the newest poll (15 s of polls), then taken again.
    assert added == [False, False, False, True, True, True]
    assert site.dropped_out_of_order == 3 and site.clock_steps_back == 0
    assert site.host("HV01").last_time == clock.now.timestamp()


def test_a_step_forward_is_a_gap_and_the_series_go_on():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    feed(site, clock, 3)
    clock.step(HOUR)
    assert all(feed(site, clock, 3))
    times, values = site.host("HV01").buffer.view()
    assert len(times) == 7 and math.isnan(values[0][3])     # one gap row, midway
    assert site.host("HV01").last_time == clock.now.timestamp()


def test_a_forward_jump_the_hosts_clock_does_not_confirm_moves_the_rows_forward_without_a_gap():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    host_clock = T0
    for i in range(6):
        if i == 3:
            clock.step(HOUR)                  # the console's clock only
        host_clock += timedelta(seconds=5)
        site.add(snap(clock.tick(), vm_ids=("vm-a",), host_time=host_clock))
    times, values = site.host("HV01").buffer.view()
    assert len(times) == 6 and not np.isnan(values[0]).any()
    assert np.allclose(np.diff(times), 5.0) and times[-1] == clock.now.timestamp()
    assert site.clock_steps_forward == 1 and site.last_shift_s == 0.0
    assert list(site.vm("vm-a").buffer.view()[0]) == list(times)


def test_a_silence_both_clocks_agree_on_is_still_a_gap():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    for i in range(4):
        if i == 2:
            clock.step(HOUR)                  # the console slept: the host's clock moved too
        site.add(snap(clock.tick(), host_time=clock.now))
    times, values = site.host("HV01").buffer.view()
    assert len(times) == 5 and math.isnan(values[0][2]) and site.clock_steps_forward == 0


def test_unreachable_since_moves_back_with_the_rows():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    feed(site, clock, 2)
    down_at = clock.tick()
    site.add(unreachable("HV01", down_at, "timeout", "no answer"))
    clock.step(-HOUR)
    site.add(unreachable("HV01", clock.tick(), "timeout", "no answer"))
    host = site.host("HV01")
    assert host.unreachable_since is not None and host.unreachable_since < clock.now
    # Down for one poll interval more than before the step, as the host really was.
    assert (clock.now - host.unreachable_since).total_seconds() == 5.0


def test_a_vm_that_vanished_before_a_step_back_is_still_forgotten_a_window_later():
    site, clock = SiteHistory(poll_interval_s=5, window_s=120), SteppingClock()
    feed(site, clock, 2, vm_ids=("vm-a", "vm-b"))
    feed(site, clock, 1, vm_ids=("vm-a",))          # vm-b vanishes
    clock.step(-HOUR)
    feed(site, clock, 40, vm_ids=("vm-a",))         # 200 s: past the 120 s window
    assert site.vm("vm-b") is None and site.vm("vm-a") is not None


def test_a_second_step_back_moves_the_rows_again():
    site, clock = SiteHistory(poll_interval_s=5), SteppingClock()
    feed(site, clock, 4)
    clock.step(-HOUR)
    feed(site, clock, 4)
    clock.step(-2 * HOUR)
    feed(site, clock, 4)
    times, _ = site.host("HV01").buffer.view()
    assert site.clock_steps_back == 2 and len(times) == 12
    assert np.allclose(np.diff(times), 5.0) and times[-1] == clock.now.timestamp()
