"""The demo site's first minutes as the window polls it (the simulated host's collect answer,
the collector's parse, a HostWorker with the real freeze detector and a shared maintenance
feed): every tile a poll builds from the rows before it must show exactly what a row made
without any previous row shows (what a console started at that moment would show), through
a boot, two freezes, a guest reboot, a live migration, a host that stops answering and
comes back, a wedged VMMS, a host's patch steps and a VM's own maintenance window.

This holds the reuse of the previous row (its rank, sort key, folded name, group, look and
texts) to the rows' real inputs rather than to another construction of the same code."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hvconsole.core.detector import Detector
from hvconsole.core.snapshot import Snapshot, unreachable
from hvconsole.core.timeutil import parse_time
from hvconsole.monitoring.host_worker import HostWorker
from hvconsole.monitoring.maintenance_feed import MaintenanceFeed
from hvconsole.monitoring.rows import TileRow
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.sim.agent.collect import CollectParams, collect_document
from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import build_demo_site

HOSTS = ("HV01", "HV02", "HV03", "HV04")
INTERVAL_S = 5.0
POLLS = 110     # past the demo's scripted first minutes (the migration is at 420 s)


class _Answers:
    """The collector a worker calls: hands it the snapshot the test made for this poll."""

    def __init__(self) -> None:
        self.snap: Snapshot | None = None

    def poll(self, cancel: Any = None) -> Snapshot:
        assert self.snap is not None
        return self.snap

    def close(self) -> None:
        pass

    def itself(self) -> _Answers:
        return self


class _Step:
    def __init__(self, host: str, step: str):
        self.host, self.step, self.run_id = host, step, 7


def _shown(row: TileRow) -> tuple[str, ...]:
    """Everything a tile shows, sorts and filters by, NaN-safe (a NaN in a sparkline is
    not equal to itself)."""
    return tuple(repr(getattr(row, name)) for name in (
        "host", "vm", "cpu_history", "findings", "stale_reason", "patching", "vm_id", "rank",
        "sort_key", "name_folded", "group", "texts", "spark", "look"))


def test_every_row_the_demo_site_polls_shows_what_a_fresh_row_shows():
    clock = SimClock.manual()
    site = build_demo_site(1, clock)
    feed = MaintenanceFeed()
    answers = {name: _Answers() for name in HOSTS}
    workers = {name: HostWorker(name, name, collector_factory=answers[name].itself,
                                detector_factory=Detector, maintenance=feed) for name in HOSTS}
    bookmarks: dict[str, datetime | None] = dict.fromkeys(HOSTS)
    previous: dict[str, dict[str, TileRow]] = {name: {} for name in HOSTS}
    live_only = kept = stale = noted = patched = 0
    t = 0.0
    for poll in range(POLLS):
        t += INTERVAL_S
        site.advance_to(t)
        at = site.time_of(t)
        # What the console does meanwhile: HV03 stops answering for a while, HV04's VMMS
        # wedges, HV02 goes through patch steps, one VM of HV04 is in a recovery step.
        if poll == 20:
            site.host("HV03").hang()
        elif poll == 26:
            site.host("HV03").unhang()
        elif poll == 40:
            site.host("HV04").wedge_vmms()
        elif poll == 50:
            site.host("HV04").restart_vmms()
        if poll in (30, 45, 60):
            feed.update([_Step("HV02", {30: "drain", 45: "install", 60: "reboot"}[poll])], at)
        elif poll == 70:
            feed.update([], at)
        if poll == 35:
            vm_id = next(iter(workers["HV04"]._tiles))
            feed.registry.begin("HV04", vm_id, until=at + timedelta(seconds=60), reason="recovery: Turn off")
        for name in HOSTS:
            host = site.host(name)
            if host.reachability() != "up":
                snap = unreachable(name, at, "timeout", "no answer in 10 s")
            else:
                doc, _ = collect_document(host, CollectParams(bookmarks[name], 200, 10_000), t)
                snap, mark = snapshot_from_answer(doc, name, at)
                bookmarks[name] = None if mark is None else parse_time(mark)
            answers[name].snap = snap
            tiles = workers[name].poll_once().tiles
            for row in tiles:
                fresh = TileRow(host=row.host, vm=row.vm, cpu_history=row.cpu_history, findings=row.findings,
                                stale_reason=row.stale_reason, patching=row.patching)
                assert _shown(row) == _shown(fresh), (poll, name, row.vm.name)
                old = previous[name].get(row.vm_id)
                if old is row:
                    kept += 1
                elif old is not None and row.look is old.look and row.texts.status is old.texts.status:
                    live_only += 1
                stale += row.stale_reason is not None
                patched += row.patching is not None and row.patching.startswith("patching")
                noted += row.patching == "recovery: Turn off"
            previous[name] = {row.vm_id: row for row in tiles}
    # Every kind of poll really happened, and the reuse paths really ran.
    assert live_only > 1000 and kept > 50
    assert stale > 0 and patched > 0 and noted > 0
