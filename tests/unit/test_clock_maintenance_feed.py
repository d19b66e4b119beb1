"""The window's view of hosts being patched when the console's clock is stepped (NTP after
a resume, an admin fixing the time): the journal's open maintenance windows and the feed
that hands them to the pollers' detectors. A run some process executes keeps its hosts
quiet until their maintenance-off whatever the recorded end says; the feed keeps its
registry windows renewed when the clock went back."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.vocabulary import RunState
from hvconsole.monitoring.maintenance_feed import HOLD, MaintenanceFeed
from hvconsole.patch.control import RunLock
from hvconsole.patch.watch import ActiveMaintenance, open_maintenance
from tests.unit.detector.builders import T0
from tests.unit.patch.test_engine_fakes import fake_site, new_run, plan_for, run

DAY = timedelta(days=1)


def test_a_run_being_executed_keeps_its_host_past_the_recorded_end_on_a_stepped_clock(tmp_path):
    hosts = fake_site("HV01")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",)))
    hosts["HV01"].stop_after[("patch_install_start", 1)] = threading.Event()   # stopped mid-install
    assert run(journal, run_id, hosts).state == RunState.RUNNING
    (window,) = open_maintenance(journal)
    stepped = window.until + DAY            # the console's clock jumped a day forward

    lock = RunLock(journal.path, run_id)    # a process executes the run (resumed it)
    assert lock.acquire()
    try:
        (held,) = open_maintenance(journal, now=stepped)
        assert (held.host, held.executing_pid) == ("HV01", os.getpid())
        journal.set_run_state(run_id, RunState.PAUSED)    # a forgotten pause silences nobody for ever
        assert open_maintenance(journal, now=stepped) == []
        journal.set_run_state(run_id, RunState.RUNNING)
    finally:
        lock.release()
    # Nobody executes it: the dead workflow's window ends at its recorded end.
    assert open_maintenance(journal, now=stepped) == []


def test_the_feed_renews_its_windows_when_the_console_clock_went_back():
    reg = MaintenanceRegistry()
    feed = MaintenanceFeed(reg)
    feed.update([ActiveMaintenance(7, "HV01", "install", T0, None)], T0)
    back = T0 - 2 * DAY
    feed.renew(back)
    (w,) = reg.windows()
    assert w.until == back + HOLD
    assert w.begun == back
    feed.renew(back + timedelta(hours=1))   # and not again while its end is ahead as usual
    assert reg.windows() == [w]
