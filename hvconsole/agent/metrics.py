"""What ``/metrics`` says: the agent's newest poll of every host, as Prometheus metrics.

Written with the ``prometheus_client`` library as a custom collector: the families are
built from the newest poll results at scrape time, so a VM that is deleted or migrates
away simply stops being exported (no stale label sets to remember to remove), and a
scrape never waits on a host.

Naming follows https://prometheus.io/docs/practices/naming/: the ``hvconsole_`` prefix,
base units (bytes, seconds, ratios 0-1 rather than percent), ``_total`` for counters,
``_info`` for constant metadata. Rates the host itself measured per second (storage and
network) are gauges named ``…_bytes_per_second``: they are not counters we could derive.

Label cardinality is bounded by the site, never by time:

* ``host``: one per inventory host; ``vm`` (name) and ``vm_id`` one per VM, at most
  ``max_vms`` VMs in all (default 5,000; the rest are counted in
  ``hvconsole_agent_vms_not_exported``);
* ``state``, ``status``, ``kind``, ``severity``, ``compliance``: closed sets (Hyper-V's
  VM states and heartbeat statuses from core/enums.py, anything else ``Other``; the
  detector's finding kinds; critical/warning);
* evidence text, event messages, error messages and times are never labels.

A label value is what Windows reported, cut to 128 characters; the library escapes it
(quotes, backslashes, newlines), so a hostile VM name cannot break the exposition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hvconsole.core import compliance as cc
from hvconsole.core.detector.findings import KINDS
from hvconsole.core.enums import HEARTBEAT_OK, HEARTBEATS, VM_STATES

DEFAULT_MAX_VMS = 5000
LABEL_MAX = 128
MB = 1024 * 1024


# (key, name, help, labels) of every gauge family, in exposition order.
_H = ("host",)
_V = ("host", "vm", "vm_id")
GAUGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("up", "hvconsole_host_up",
     "1 when the host answered its newest poll, 0 when it did not",
     _H),
    ("poll", "hvconsole_host_poll_duration_seconds",
     "How long the newest poll of the host took",
     _H),
    ("polled", "hvconsole_host_last_poll_timestamp_seconds",
     "When the agent finished its newest poll of the host (the agent's clock, Unix time)",
     _H),
    ("cpu", "hvconsole_host_cpu_usage_ratio",
     "Host CPU use, all logical processors (Hyper-V Hypervisor Logical Processor, 0-1)",
     _H),
    ("mem_total", "hvconsole_host_memory_total_bytes",
     "Host physical memory",
     _H),
    ("mem_avail", "hvconsole_host_memory_available_bytes",
     "Host memory available",
     _H),
    ("rd", "hvconsole_host_storage_read_bytes_per_second",
     "Host disk reads, as the host measured them",
     _H),
    ("wr", "hvconsole_host_storage_write_bytes_per_second",
     "Host disk writes, as the host measured them",
     _H),
    ("lat", "hvconsole_host_storage_latency_seconds",
     "Host disk latency: average over the interval between the last two polls",
     _H),
    ("rx", "hvconsole_host_network_receive_bytes_per_second",
     "Host network receive",
     _H),
    ("tx", "hvconsole_host_network_transmit_bytes_per_second",
     "Host network transmit",
     _H),
    ("vmms", "hvconsole_host_vmms_responding",
     "1 when the VM query answered (VMMS responsive), 0 when it failed",
     _H),
    ("vms", "hvconsole_host_vms",
     "VMs on the host in its newest answered poll",
     _H),
    ("reboot", "hvconsole_host_pending_reboot",
     "1 when Windows says the host needs a reboot",
     _H),
    ("update", "hvconsole_host_update_needed",
     "1 when the update catalog lists an update this host needs (or needs a reboot to finish)",
     _H),
    ("compl", "hvconsole_host_compliance",
     "The host's compliance against the update catalog (1 for its status)",
     (*_H, "status")),
    ("os", "hvconsole_host_os_info",
     "The host's Windows build (constant 1)",
     (*_H, "build")),
    ("state", "hvconsole_vm_state",
     "1 for the VM's current state (Get-VM State)",
     (*_V, "state")),
    ("hb", "hvconsole_vm_heartbeat",
     "1 for the VM's current heartbeat status (Unknown: no heartbeat integration)",
     (*_V, "status")),
    ("hb_ok", "hvconsole_vm_heartbeat_ok",
     "1 when the guest's heartbeat is OK, 0 when it is lost or in error (absent without one)",
     _V),
    ("vcpu", "hvconsole_vm_cpu_usage_ratio",
     "VM CPU use (0-1 of its virtual processors)",
     _V),
    ("vmem", "hvconsole_vm_memory_assigned_bytes",
     "Memory assigned to the VM",
     _V),
    ("vdem", "hvconsole_vm_memory_demand_bytes",
     "The VM's memory demand",
     _V),
    ("up_s", "hvconsole_vm_uptime_seconds",
     "VM uptime as Hyper-V reports it",
     _V),
    ("finding", "hvconsole_finding_active",
     "1 for each active finding of the freeze detector (vm is empty for a host finding)",
     ("host", "vm", "kind", "severity")),
)


def label(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:LABEL_MAX]


def _closed(value: str | None, allowed: Iterable[str], other: str = "Other") -> str:
    if value is None:
        return "Unknown"
    return value if value in allowed else other


class AgentCollector(Collector):
    """Exposes an :class:`~hvconsole.agent.runner.AgentRunner`'s newest results."""

    def __init__(self, runner: Any, *, max_vms: int = DEFAULT_MAX_VMS, version: str = ""):
        self.runner = runner
        self.max_vms = max_vms
        self.version = version

    def describe(self) -> list:
        # Without this the registry calls collect() once at registration, before any poll.
        return []

    def collect(self) -> Iterator[Any]:
        states = self.runner.states()
        H = list(_H)
        g = {key: GaugeMetricFamily(name, help_, labels=list(labels)) for key, name, help_, labels in GAUGES}
        polls = CounterMetricFamily("hvconsole_agent_polls", "Polls the agent finished, per host", labels=H)
        fails = CounterMetricFamily("hvconsole_agent_poll_failures", "Polls that did not reach the host or failed",
                                    labels=H)
        skipped = GaugeMetricFamily("hvconsole_agent_vms_not_exported",
                                    "VMs left out of the per-VM metrics by the agent's --max-vms limit")
        info = GaugeMetricFamily("hvconsole_agent_info", "The agent's version (constant 1)", labels=["version"])
        info.add_metric([label(self.version)], 1)

        exported = left_out = 0
        for st in states:
            host = label(st.name)
            polls.add_metric([host], st.polls)
            fails.add_metric([host], st.failures_total)
            r = st.result
            if r is None:
                continue
            snap, row = r.snapshot, r.host_row
            g["up"].add_metric([host], 1 if snap.reachable else 0)
            g["poll"].add_metric([host], r.poll_ms / 1000.0)
            if st.finished_at is not None:
                g["polled"].add_metric([host], st.finished_at)
            self._host_resources(g, host, snap)
            if snap.reachable and snap.vm_query is not None:
                g["vmms"].add_metric([host], 1 if snap.vm_query.ok else 0)
            if row.pending_reboot is not None:
                g["reboot"].add_metric([host], 1 if row.pending_reboot else 0)
            status = row.compliance.status
            if status != cc.UNKNOWN:
                g["update"].add_metric([host], 1 if status in (cc.NEEDS_UPDATE, cc.PENDING_REBOOT) else 0)
            g["compl"].add_metric([host, status], 1)
            if row.os_build is not None:
                build = f"{row.os_build}.{row.os_ubr}" if row.os_ubr is not None else str(row.os_build)
                g["os"].add_metric([host, build], 1)
            names: dict[str, str] = {}
            if snap.reachable and (snap.vm_query is None or snap.vm_query.ok):
                g["vms"].add_metric([host], len(snap.vms))
                for vm in snap.vms:
                    names[vm.id] = label(vm.name)
                    if exported >= self.max_vms:
                        left_out += 1
                        continue
                    exported += 1
                    self._vm(g, host, vm)
            for f in r.active_findings:
                vm_name = "" if f.vm_id is None else names.get(f.vm_id, label(f.vm_name or f.vm_id))
                kind = f.kind if f.kind in KINDS else "other"
                g["finding"].add_metric([host, vm_name, kind, label(f.severity)], 1)
        skipped.add_metric([], left_out)
        yield from g.values()
        yield from (polls, fails, skipped, info)

    @staticmethod
    def _host_resources(g: dict[str, Any], host: str, snap: Any) -> None:
        res = snap.resources if snap.reachable else None
        if res is None:
            return
        pairs = (("cpu", res.cpu_total_run_pct, 0.01), ("mem_total", res.memory_total_mb, MB),
                 ("mem_avail", res.memory_available_mb, MB), ("rd", res.storage_read_bps, 1),
                 ("wr", res.storage_write_bps, 1), ("lat", res.storage_latency_ms, 0.001),
                 ("rx", res.network_rx_bps, 1), ("tx", res.network_tx_bps, 1))
        for key, value, scale in pairs:
            if value is not None:
                g[key].add_metric([host], float(value) * scale)

    @staticmethod
    def _vm(g: dict[str, Any], host: str, vm: Any) -> None:
        labels = [host, label(vm.name), label(vm.id)]
        g["state"].add_metric([*labels, _closed(vm.state, VM_STATES)], 1)
        g["hb"].add_metric([*labels, _closed(vm.heartbeat, HEARTBEATS)], 1)
        if vm.heartbeat is not None and vm.heartbeat in HEARTBEATS and vm.heartbeat != "Disabled":
            g["hb_ok"].add_metric(labels, 1 if vm.heartbeat in HEARTBEAT_OK else 0)
        if vm.cpu_pct is not None:
            g["vcpu"].add_metric(labels, vm.cpu_pct / 100.0)
        if vm.memory_assigned_mb is not None:
            g["vmem"].add_metric(labels, vm.memory_assigned_mb * MB)
        if vm.memory_demand_mb is not None:
            g["vdem"].add_metric(labels, vm.memory_demand_mb * MB)
        if vm.uptime_s is not None:
            g["up_s"].add_metric(labels, vm.uptime_s)
