"""The maintenance notice for stakeholders: what is patched when, and which services go
down for how long. Plain text, ready to paste into mail or chat; the admin edits it in the
wizard before it is stored with the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..enums import RUNNING_VM_STATES
from .plan import PatchPlan

# A conservative per-host estimate: drain + install + reboot + verify + restore.
DEFAULT_MINUTES_PER_HOST = 45


@dataclass(frozen=True, slots=True)
class AffectedVm:
    id: str          # per-VM handling in the plan is keyed by id: names are not unique
    name: str
    host: str
    state: str


_IMPACT = {
    "live-migrate": "moved to another host while running: no downtime expected",
    "save": "saved before the host restarts and resumed afterwards: unavailable for the host's maintenance",
    "shutdown": "shut down cleanly and started again afterwards: unavailable for the host's maintenance",
    "host-default": "handled by the host's automatic stop and start actions: expect an outage",
}


def estimate_end(plan: PatchPlan, minutes_per_host: int = DEFAULT_MINUTES_PER_HOST) -> datetime | None:
    if plan.window_start is None:
        return None
    total = 0.0
    for wave in plan.waves:
        rounds = -(-len(wave.hosts) // wave.parallel)  # ceil: hosts are patched `parallel` at a time
        total += rounds * minutes_per_host
    total += plan.gate.soak_minutes * (len(plan.waves) - 1)
    return plan.window_start + timedelta(minutes=total)


def compose_notice(plan: PatchPlan, title: str, vms: Sequence[AffectedVm], contact: str = "",
                   minutes_per_host: int = DEFAULT_MINUTES_PER_HOST) -> str:
    start = plan.window_start.astimezone(UTC) if plan.window_start else None
    end = estimate_end(plan, minutes_per_host)
    if start and end:
        end = end.astimezone(UTC)
        until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%A %d %B, %H:%M}"
        when = f"{start:%A %d %B %Y, %H:%M} UTC until about {until} UTC"
    else:
        when = "time to be announced"
    lines = [
        f"Subject: Planned maintenance of Hyper-V hosts: {plan.kb}",
        "",
        f"We will install {plan.kb} ({title}) on {len(plan.hosts)} virtualization host(s).",
        f"When: {when}.",
        "",
        "Order:",
    ]
    soak = f"{plan.gate.soak_minutes:g} minutes" if plan.gate.soak_minutes else "a while"
    for i, wave in enumerate(plan.waves):
        # The wizard and the report call the first wave the test ring; stakeholders read
        # the same words (the journal keeps the wave's short name, e.g. "pilot").
        if i == 0:
            label = f"test ring: patched first, then watched for {soak} before anything else"
        else:
            before = "the test ring" if i == 1 else f"production wave {i - 1}"
            label = f"production wave {i}, after {before} passes its health check"
        lines.append(f"  {i + 1}. {', '.join(wave.hosts)} ({label})")
    running = [v for v in vms if v.host in plan.hosts and v.state in RUNNING_VM_STATES]
    if running:
        lines += ["", "Affected virtual machines:"]
        for v in sorted(running, key=lambda v: (v.host.lower(), v.name.lower())):
            lines.append(f"  - {v.name} (on {v.host}): {_IMPACT[plan.handling_for(v.id).action]}")
    if plan.stop_on_failure:
        lines += ["", "If a host does not pass its checks, the rollout stops "
                      "and the remaining hosts are left untouched."]
    else:
        lines += ["", "If a host does not pass its checks, it is left out and the rollout continues with the others."]
    if contact:
        lines += ["", f"Questions: {contact}"]
    return "\n".join(lines)
