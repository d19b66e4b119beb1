"""A realistic synthetic hour of one site, shared by the host-graph and VM-detail tests
(and handy for rendering the widgets by hand). Holds no tests itself.

Seeded, so every run draws the same hour: a daytime CPU wave with noise, a backup burst
on storage, a two-minute outage of HV02, and one VM that loses its heartbeat.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

from hvconsole.core.detector.findings import Finding
from hvconsole.core.history import SiteHistory
from hvconsole.core.snapshot import HostEvent, HostResources, Snapshot, VmSample, unreachable

START = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
INTERVAL_S = 5
TICKS = 720  # one hour
OUTAGE = (600, 624)  # HV02 does not answer for ticks [600, 624): two minutes
FROZEN_VM = "3f2c6b1e-0000-4000-8000-000000000002"
HOSTILE_NAME = "<b>x</b>&amp;'; Stop-Computer"


def vm_ids() -> list[str]:
    return [f"3f2c6b1e-0000-4000-8000-{i:012d}" for i in range(1, 7)]


def _vm(i: int, vm_id: str, tick: int, rng: random.Random) -> VmSample:
    frozen = vm_id == FROZEN_VM and tick >= 660
    name = HOSTILE_NAME if i == 1 else f"VM{i:02d}"
    cpu = 0.0 if frozen else max(0.0, 15 + 12 * math.sin(tick / 40 + i) + rng.gauss(0, 3))
    return VmSample(
        id=vm_id, name=name, state="Running", health="Ok",
        heartbeat="LostCommunication" if frozen else "OkApplicationsHealthy",
        operational_status=("Ok",), cpu_pct=None if tick % 97 == 0 else cpu, vcpus=4,
        memory_assigned_mb=8192.0, memory_demand_mb=5000 + 800 * math.sin(tick / 90 + i),
        dynamic_memory=True, uptime_s=86_400 + tick * INTERVAL_S,
        automatic_start_action="StartIfRunning", automatic_stop_action="Save", generation=2,
        is_clustered=False, last_backup=START - timedelta(hours=11))


def _resources(tick: int, rng: random.Random, scale: float) -> HostResources:
    wave = 0.5 + 0.5 * math.sin(tick / 120)
    backup = 1.0 if 300 <= tick < 420 else 0.0
    guest = max(0.0, 20 + 25 * wave * scale + rng.gauss(0, 4))
    root = max(0.0, 3 + rng.gauss(0, 0.8))
    return HostResources(
        logical_processors=32, cpu_total_run_pct=min(100.0, guest + root),
        cpu_guest_run_pct=guest, cpu_root_run_pct=root, memory_total_mb=262_144.0,
        memory_available_mb=90_000 - 20_000 * wave + rng.gauss(0, 500),
        storage_read_bps=max(0.0, 12e6 + 140e6 * backup + rng.gauss(0, 4e6)),
        storage_write_bps=max(0.0, 6e6 + 35e6 * wave + rng.gauss(0, 2e6)),
        storage_latency_ms=max(0.1, 1.5 + 9 * backup + rng.gauss(0, 0.4)),
        network_rx_bps=max(0.0, 3e6 + 9e6 * wave + rng.gauss(0, 1e6)),
        network_tx_bps=max(0.0, 1.5e6 + 4e6 * wave + 40e6 * backup + rng.gauss(0, 5e5)),
        system_drive_free_mb=51_200.0)


def events() -> list[HostEvent]:
    frozen_at = START + timedelta(seconds=660 * INTERVAL_S)
    return [
        HostEvent(time=frozen_at, log="Microsoft-Windows-Hyper-V-Worker-Admin", id=18590,
                  level="Error", provider="Microsoft-Windows-Hyper-V-Worker", vm_id=FROZEN_VM,
                  message="'<i>guest</i>' reported a fatal error & stopped"),
        HostEvent(time=frozen_at - timedelta(minutes=20), log="System", id=7036,
                  level="Information", vm_id=None, message="service state change"),
        HostEvent(time=frozen_at - timedelta(minutes=5), log="Microsoft-Windows-Hyper-V-VMMS-Admin",
                  id=18304, level="Warning", vm_id=vm_ids()[0], message="another VM"),
    ]


def findings() -> list[Finding]:
    first = START + timedelta(seconds=665 * INTERVAL_S)
    last = START + timedelta(seconds=(TICKS - 1) * INTERVAL_S)
    return [
        Finding("HV01", FROZEN_VM, HOSTILE_NAME, "heartbeat-lost", "critical", first, last,
                True, ("heartbeat LostCommunication for 11 polls since 09:55:25Z",
                       "cpu_pct 0 (flat) over the same polls <script>")),
        Finding("HV01", vm_ids()[0], "VM01", "transitional-state", "warning", first, last,
                False, ("state Starting for 6 min",)),
        Finding("HV01", None, None, "vmms-slow", "warning", first, last, True,
                ("vm_query took 9.8 s",)),
    ]


def synthetic_site(ticks: int = TICKS, seed: int = 7) -> SiteHistory:
    """SiteHistory after ``ticks`` polls of HV01 (six VMs) and HV02 (no VMs, an outage)."""
    rng = random.Random(seed)
    site = SiteHistory()
    ids = vm_ids()
    evs = events()
    for tick in range(ticks):
        at = START + timedelta(seconds=tick * INTERVAL_S)
        vms = tuple(_vm(i + 1, vm_id, tick, rng) for i, vm_id in enumerate(ids))
        new_events = tuple(e for e in evs if at - timedelta(seconds=INTERVAL_S) < e.time <= at)
        site.add(Snapshot(host="HV01", polled_at=at, reachable=True,
                          resources=_resources(tick, rng, 1.0), vms=vms, events=new_events))
        at2 = at + timedelta(milliseconds=300)
        if OUTAGE[0] <= tick < OUTAGE[1]:
            site.add(unreachable("HV02", at2, "timeout", "no answer within 10 s"))
        else:
            site.add(Snapshot(host="HV02", polled_at=at2, reachable=True,
                              resources=_resources(tick, rng, 0.5)))
    return site
