"""The demo site's own background activity never meddles with what a console does
(issue 10, item 16): a patch run at 60x used to fail at restore when the site turned off a
VM the console had just restarted. Here a console's drain and restore of HV01 is played
at every moment of the first half hour, by hand on a stepped clock, and every VM the
console restarted must still be running, untouched, through a 30-minute soak."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.scenarios.demo import QUIET_S, build_patch_demo_site
from hvconsole.sim.model.vm import SimVM

START = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)


def _background_log(monkeypatch) -> list[tuple[str, str]]:
    """(action, VM name) for every guest reboot, shutdown and turn-off in the site."""
    log: list[tuple[str, str]] = []
    for name in ("guest_reboot", "shutdown", "turn_off"):
        original = getattr(SimVM, name)

        def wrapped(self, *args, _original=original, _name=name, **kwargs):
            done = _original(self, *args, **kwargs)
            if done:
                log.append((_name, self.name))
            return done
        monkeypatch.setattr(SimVM, name, wrapped)
    return log


@pytest.mark.parametrize("drain_at", range(300, 1800, 50))
def test_vms_the_console_restarted_stay_running_through_the_soak(monkeypatch, drain_at: int) -> None:
    log = _background_log(monkeypatch)
    site = build_patch_demo_site(1, SimClock.manual(START))
    hv01 = site.host("HV01")
    site.advance_to(drain_at)
    drained = [vm for vm in hv01.vms if vm.state == "Running"]
    for vm in drained:                                   # the console's drain: save them all
        assert vm.save()
    site.advance_to(drain_at + 120)
    hv01.reboot()                                        # the patch reboot
    site.advance_to(drain_at + 400)
    assert hv01.power == "up"
    log.clear()
    for vm in drained:                                   # the console's restore
        assert vm.start(), vm.name
    restored_at = drain_at + 400
    for t in range(restored_at, restored_at + int(QUIET_S), 30):   # the soak
        site.advance_to(t)
        assert [vm.name for vm in drained if vm.state not in ("Starting", "Running")] == [], t
    touched = {name for _, name in log} & {vm.name for vm in drained}
    assert touched == set(), f"background activity acted on {touched} after the console restored them"


def test_what_a_console_does_never_changes_the_sites_own_draws(monkeypatch) -> None:
    """The background of the other hosts is the same whether or not HV01 is drained."""
    runs = []
    for drain in (False, True):
        log = _background_log(monkeypatch)
        site = build_patch_demo_site(1, SimClock.manual(START))
        site.advance_to(590)
        if drain:
            for vm in site.host("HV01").vms:
                vm.save()
        log.clear()
        for t in range(600, 4 * 3600, 60):
            site.advance_to(t)
        runs.append([entry for entry in log if site.vm(entry[1]).host.name != "HV01"])
    assert runs[0] and runs[0] == runs[1]


def test_a_host_a_patch_run_worked_on_stays_calm_through_a_long_soak(monkeypatch) -> None:
    """A soak longer than QUIET_S (an admin may choose hours) and the production waves after
    it judge "VMs in their prior state" on the pilot: the site leaves a host a patch run
    changed alone for PATCH_QUIET_S after the run's last change (drain … restore), marked by
    the simulated patch scripts themselves."""
    from hvconsole.sim.scenarios.demo import PATCH_QUIET_S
    from hvconsole.sim.agent.host_agent import load_handler_modules
    log = _background_log(monkeypatch)
    site = build_patch_demo_site(1, SimClock.manual(START))
    hv01 = site.host("HV01")
    site.advance_to(600)
    running = [vm for vm in hv01.vms if vm.state == "Running"]
    restore = load_handler_modules()["patch_restore"]        # as a console's restore reaches it
    restore(hv01, {"vms": [], "cluster_resume": False, "failback": False}, site.clock.now())
    assert hv01.patch.worked_t is not None
    log.clear()
    for t in range(600, 600 + int(3 * 3600), 60):           # a three-hour soak
        site.advance_to(t)
    touched = {name for _, name in log} & {vm.name for vm in running}
    assert touched == set() and PATCH_QUIET_S >= 3 * 3600
