"""The benchmarks' steady site: HOSTS hosts of VMS VMs each, roles cycled from the demo's
load profiles, every tenth VM off. One copy for console_cpu.py (served from its own
process) and rows_cost.py (answers recorded in this process), so both measure the same
site."""

from __future__ import annotations

import random
import uuid
from typing import Any


def populate(site: Any, hosts: int, vms: int) -> None:
    """Add the hosts and their VMs to ``site`` (a ``SimSite``), the same every time (seed 7)."""
    from hvconsole.sim.model.host import SimHost
    from hvconsole.sim.model.vm import SimVM
    from hvconsole.sim.scenarios.demo import _ROLE

    rng = random.Random(7)
    roles = sorted(_ROLE)
    for h in range(hosts):
        host = site.add_host(SimHost(f"HV{h + 1:03d}", build=20348, ubr=3695, hotfixes=("KB5061906",),
                                     logical_processors=64, memory_total_mb=524288, cluster=None,
                                     clock_skew_ms=0, clixml_progress=False, uptime_s=10 * 86400))
        for i in range(vms):
            role = roles[(h + i) % len(roles)]
            host.add_vm(SimVM(f"HV{h + 1:03d}-VM{i:03d}", str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                              vcpus=4, memory_mb=8192, dynamic_memory=bool(i % 2), generation=2,
                              guest="windows", load=_ROLE[role], automatic_start_action="StartIfRunning",
                              automatic_stop_action="Save", backup_hour=None, is_clustered=False,
                              state="Off" if i % 10 == 0 else "Running", uptime_s=5 * 86400))
