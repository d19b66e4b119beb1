"""The recovery scenario: one small site with each thing the guided recovery must handle
(docs/recovery.md), recovered end to end by tests/sim/test_recovery_e2e.py.

HV01: ``APP-HUNG`` a hung Windows guest (heartbeat lost, CPU pegged, shutdown service not
answering: the gentle way is impossible, Turn off works), ``APP-STOPPING`` a VM stuck in
Stopping whose worker ignores Turn off (only ending the worker helps), ``APP-OK`` a
healthy VM (nothing to recover) and a VM with a hostile name that hangs like APP-HUNG.
HV02: VMMS wedged (Get-VM times out) with ``DB-01`` running fine behind it: a VMMS restart
brings the queries back and DB-01 keeps running.
"""

from __future__ import annotations

import uuid

from ..model.clock import SimClock
from ..model.host import SimHost
from ..model.site import SimSite
from ..model.vm import SimVM
from .freeze import SCENARIO_START

HOSTILE_NAME = "x'; Stop-Computer -Force; $(rm -r C:\\) \"<script>alert(1)</script>\n&amp;"
HANG_AT_S = 5.0


def vm_id(n: int) -> str:
    return str(uuid.UUID(int=0x5EC0_0000_0000_0000_0000_0000_0000_0000 + n))


def build_recovery_site(clock: SimClock | None = None, seed: int = 3) -> SimSite:
    site = SimSite(clock or SimClock.manual(SCENARIO_START), seed=seed)
    hv01 = site.add_host(SimHost("HV01"))
    hv02 = site.add_host(SimHost("HV02"))
    hung = hv01.add_vm(SimVM("APP-HUNG", vm_id(1)))
    stuck = hv01.add_vm(SimVM("APP-STOPPING", vm_id(2)))
    hv01.add_vm(SimVM("APP-OK", vm_id(3)))
    hostile = hv01.add_vm(SimVM(HOSTILE_NAME, vm_id(4)))
    hv02.add_vm(SimVM("DB-01", vm_id(5)))

    def faults(_t: float) -> None:
        hung.hang("pegged", event="worker_not_responding")
        hostile.hang("flat")
        stuck.stick("Stopping")
        stuck.worker_hung = True
        hv02.wedge_vmms()
    site.at(HANG_AT_S, faults)
    return site
