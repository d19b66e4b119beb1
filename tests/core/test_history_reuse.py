"""The history's per-VM add, written out in ``SiteHistory._add_vms`` instead of calling
``VmHistory._add``: the same series, gaps, transitions, newest samples and vanish times as
the plain calls, on varied and odd polls (migrations, duplicates, gaps, clock steps, odd
values, ids in mixed case, unreachable hosts, the interval changed live, hosts removed,
vanished VMs forgotten)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np

from hvconsole.core.history import SiteHistory, VmHistory
from hvconsole.core.snapshot import Snapshot, VmSample

VALUES = [None, 0.0, -0.0, 12.5, 100.0, 150.0, -3.0, math.nan, math.inf, 1e300]
STATES = ["Running", "Running", "Off", "Saved", "RunningCritical", "Paused"]
HEARTBEATS = [None, "OkApplicationsHealthy", "LostCommunication"]


class PlainHistory(SiteHistory):
    """The add as it was: one ``VmHistory._add`` call per VM."""

    def _add_vms(self, snap: Snapshot, previous_vm_ids: frozenset[str]) -> None:
        seen = set()
        vms = self._vms
        name, at = snap.host, snap.polled_at
        t = at.timestamp()
        for sample in snap.vms:
            vm_id = sample.id.lower()
            if vm_id in seen:
                continue
            seen.add(vm_id)
            vm = vms.get(vm_id)
            if vm is None:
                vm = vms[vm_id] = VmHistory(
                    vm_id, name, self.capacity, self.gap_after_s, self._transitions_per_vm)
            else:
                last = vm.buffer.last_time
                if last is not None and t < last:
                    continue
            vm._add(name, at, sample, t)
        host = self._hosts[name]
        host.vm_ids = frozenset(seen)
        for vm_id in previous_vm_ids - seen:
            vm = self._vms.get(vm_id)
            if vm is not None and vm.host == snap.host and vm.vanished_at is None:
                vm.vanished_at = snap.polled_at
                vm._mark_gap(t)


def _vm(rng: random.Random, i: int) -> VmSample:
    vm_id = f"id-{i}" if rng.random() < 0.8 else f"ID-{i}"
    return VmSample(id=vm_id, name=f"VM{i}", state=rng.choice(STATES), health="Ok",
                    heartbeat=rng.choice(HEARTBEATS), cpu_pct=rng.choice(VALUES),
                    memory_assigned_mb=rng.choice(VALUES), memory_demand_mb=rng.choice(VALUES))


def _same_arrays(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _assert_same(got: SiteHistory, want: SiteHistory) -> None:
    assert sorted(got._vms) == sorted(want._vms)
    for vm_id, w in want._vms.items():
        g = got._vms[vm_id]
        assert (g.host, g.last_seen, g.vanished_at, g._gap_after_s) == \
               (w.host, w.last_seen, w.vanished_at, w._gap_after_s)
        assert g.latest is w.latest
        assert list(g.transitions) == list(w.transitions)
        assert (g.buffer.last_time, g.buffer.last_row_is_gap(), len(g.buffer)) == \
               (w.buffer.last_time, w.buffer.last_row_is_gap(), len(w.buffer))
        (gt, gv), (wt, wv) = g.buffer.view(), w.buffer.view()
        assert _same_arrays(gt, wt) and _same_arrays(gv, wv)
    for name in want.host_names():
        g_host, w_host = got.host(name), want.host(name)
        assert g_host is not None and w_host is not None and g_host.vm_ids == w_host.vm_ids
    assert (got.dropped_out_of_order, got.clock_steps_back, got.clock_steps_forward) == \
           (want.dropped_out_of_order, want.clock_steps_back, want.clock_steps_forward)


def test_the_written_out_add_keeps_what_the_plain_calls_keep():
    rng = random.Random(77)
    for run in range(6):
        forget = rng.choice([None, 60.0, 900.0])     # vanished VMs forgotten (pruned) soon or late
        fast = SiteHistory(poll_interval_s=5.0, capacity=rng.choice([2, 5, 40]),
                           transitions_per_vm=rng.choice([1, 4, 32]), forget_after_s=forget)
        plain = PlainHistory(poll_interval_s=5.0, capacity=fast.capacity,
                             transitions_per_vm=fast._transitions_per_vm, forget_after_s=forget)
        t0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
        clocks = {"HV01": t0, "HV02": t0}
        samples: dict[int, VmSample] = {}
        for _poll in range(300):
            host = rng.choice(["HV01", "HV02"])
            step = rng.choice([5.0, 5.0, 5.0, 4.9, 0.0, 30.0, -2.0, -400.0, 3600.0])
            clocks[host] += timedelta(seconds=step)
            reachable = rng.random() > 0.1
            vms = []
            for i in rng.sample(range(12), rng.choice([0, 3, 8, 10])):
                if i not in samples or rng.random() < 0.4:
                    samples[i] = _vm(rng, i)
                vms.append(samples[i])
            if vms and rng.random() < 0.1:
                vms.append(rng.choice(vms))     # a VM listed twice
            if rng.random() < 0.03:     # the interval changed live: gaps are judged anew
                interval = rng.choice([1.0, 5.0, 20.0, 60.0])
                fast.set_poll_interval(interval)
                plain.set_poll_interval(interval)
            if rng.random() < 0.01:     # a host taken out of the inventory (and maybe added back)
                fast.remove_host(host)
                plain.remove_host(host)
            snap = Snapshot(host=host, polled_at=clocks[host], reachable=reachable,
                            host_time=clocks[host] if rng.random() < 0.5 else None,
                            vms=tuple(vms) if reachable else ())
            assert fast.add(snap) == plain.add(snap)
            _assert_same(fast, plain)
        assert run >= 0


def test_a_steady_vm_appends_one_row_a_poll_without_a_transition():
    h = SiteHistory(poll_interval_s=5.0)
    t0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for n in range(10):
        sample = VmSample(id="id-1", name="VM", state="Running", health="Ok", heartbeat=None,
                          cpu_pct=float(n), memory_assigned_mb=8192.0, memory_demand_mb=None)
        h.add(Snapshot(host="HV01", polled_at=t0 + timedelta(seconds=5 * n), reachable=True, vms=(sample,)))
    vm = h.vm("id-1")
    assert vm is not None and len(vm.buffer) == 10 and len(vm.transitions) == 1
    assert vm.buffer.series("cpu_pct")[1].tolist() == [float(n) for n in range(10)]
