"""A regressed build that keeps freezing VMs until the fix is running.

The incident the product exists for (hyperv-notes §1): after KB5058385 (20348.3692) VMs on
Windows Server 2022 "intermittently stop responding or restart"; KB5061906 (20348.3695)
fixes it. A host given a :class:`Regression` freezes one of its running VMs every few
minutes (Running, heartbeat lost, CPU pegged, a Worker-Admin error) for as long as its
*running* build is the regressed one; a frozen VM resets itself after a while (the
"or restart" half of the symptom) unless somebody acted first. Once the host runs the
fixed build (after the reboot that completes the update) the ticks find nothing to do.
Every draw comes from (seed, host, tick), so a demo is the same each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model.timeline import action_calling

if TYPE_CHECKING:
    from ..model.host import SimHost
    from ..model.site import SimSite
    from ..model.vm import SimVM


@dataclass(frozen=True)
class Regression:
    build: int = 20348
    bad_from_ubr: int = 3692          # KB5058385
    fixed_ubr: int = 3695             # KB5061906
    every_s: tuple[float, float] = (180.0, 420.0)
    lasts_s: tuple[float, float] = (600.0, 1200.0)

    def affects(self, host: SimHost) -> bool:
        """The running build is the regressed one (the installed-but-not-rebooted fix does
        not count: the UBR changes only with the reboot)."""
        return host.build == self.build and self.bad_from_ubr <= host.ubr < self.fixed_ubr


def freeze_victim(host: SimHost, t: float, pick: float) -> SimVM | None:
    """A running, healthy, settled VM of ``host`` that the regression could freeze now."""
    candidates = [vm for vm in host.vms if vm.state == "Running" and not vm.migrating and not vm.is_hung
                  and vm.guest != "appliance" and vm.sample(t)["uptime_s"] > 180]
    return candidates[int(pick * len(candidates)) % len(candidates)] if candidates else None


def freeze_now(host: SimHost, vm: SimVM, regression: Regression = Regression(), cpu: str = "pegged") -> bool:
    """Freeze ``vm`` the way the regression does, if its host still runs the bad build."""
    if host.power != "up" or not regression.affects(host) or vm.host is not host or vm.state != "Running":
        return False
    vm.hang(cpu, event="worker_not_responding")
    return True


def start_regression(site: SimSite, host: SimHost, first_at_s: float,
                     regression: Regression = Regression()) -> None:
    """Freeze a VM of ``host`` at ``first_at_s`` and every few minutes after, while it runs
    the regressed build."""

    def tick(t: float, n: int) -> None:
        rng = site.rng("regression", host.name, n)
        if host.power == "up" and host.vm_query_problem(t) is None:
            vm = freeze_victim(host, t, rng.random())
            if vm is not None and freeze_now(host, vm, regression):
                boot = host.reboots
                site.at(t + rng.uniform(*regression.lasts_s), action_calling(_reset_if_still_hung, host, vm, boot))
        site.at(t + rng.uniform(*regression.every_s), lambda t2: tick(t2, n + 1))

    site.at(first_at_s, lambda t: tick(t, 0))


def _reset_if_still_hung(host: SimHost, vm: SimVM, boot: int) -> None:
    """The guest restarts itself, unless the host rebooted or somebody acted meanwhile."""
    if host.reboots == boot and vm.host is host and vm.state == "Running" and vm.is_hung:
        vm.recover()
