"""A patch plan: which update, which hosts in which waves (pilot first), what happens to
each VM while its host is down, when, and the health gate production must wait for.

Plans are plain data (``to_dict``/``from_dict``) so that the journal stores exactly what
was agreed, the CLI can read one from a file, and the GUI wizard builds the same object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..timeutil import format_time, parse_time

# What happens to a running VM before its host reboots (hyperv-notes §8).
VM_ACTIONS = ("live-migrate", "save", "shutdown", "host-default")
PACKAGE_SOURCES = ("smb-push", "url", "on-host")


class PlanError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class VmHandling:
    action: str = "save"
    destination: str | None = None      # live-migrate: the host to move to

    def __post_init__(self) -> None:
        if self.action not in VM_ACTIONS:
            raise PlanError(f"VM handling must be one of {', '.join(VM_ACTIONS)}, not {self.action!r}")
        if self.action == "live-migrate" and not self.destination:
            raise PlanError("live migration needs a destination host")


@dataclass(frozen=True, slots=True)
class Wave:
    name: str
    hosts: tuple[str, ...]
    parallel: int = 1

    def __post_init__(self) -> None:
        if not self.hosts:
            raise PlanError(f"wave {self.name!r} has no hosts")
        if self.parallel < 1:
            raise PlanError(f"wave {self.name!r}: hosts in parallel must be at least 1")


@dataclass(frozen=True, slots=True)
class HealthGate:
    """What must hold at the end of the soak before the next wave starts."""

    soak_minutes: float = 30.0
    no_critical_findings: bool = True
    heartbeats_back: bool = True
    vms_in_prior_state: bool = True


@dataclass(frozen=True, slots=True)
class PackageSource:
    kind: str = "smb-push"
    location: str | None = None          # local file (smb-push), URL (url), host path (on-host)
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PACKAGE_SOURCES:
            raise PlanError(f"package source must be one of {', '.join(PACKAGE_SOURCES)}")


@dataclass(frozen=True, slots=True)
class PatchPlan:
    kb: str
    waves: tuple[Wave, ...]               # waves[0] is the pilot ring
    package: PackageSource = PackageSource()
    vm_default: VmHandling = VmHandling()
    vm_overrides: Mapping[str, VmHandling] = field(default_factory=dict)   # by VM id
    window_start: datetime | None = None
    stop_on_failure: bool = True
    gate: HealthGate = HealthGate()
    reboot_timeout_s: float = 1800.0
    notice: str = ""                      # the stakeholder notice as sent
    # After the pilot passed its soak, wait for the admin's promote / halt before production.
    confirm_promotion: bool = False

    def __post_init__(self) -> None:
        if not self.waves:
            raise PlanError("a plan needs at least a test ring (the pilot hosts patched first)")
        seen: set[str] = set()
        for wave in self.waves:
            for h in wave.hosts:
                if h.lower() in seen:
                    raise PlanError(f"host {h!r} appears in more than one wave")
                seen.add(h.lower())

    @property
    def pilot(self) -> Wave:
        return self.waves[0]

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h for w in self.waves for h in w.hosts)

    def handling_for(self, vm_id: str) -> VmHandling:
        # VM ids are GUIDs; snapshots carry them lower-cased, a user may type them upper.
        for key, handling in self.vm_overrides.items():
            if key.lower() == vm_id.lower():
                return handling
        return self.vm_default

    def to_dict(self) -> dict[str, Any]:
        return {
            "kb": self.kb,
            "waves": [{"name": w.name, "hosts": list(w.hosts), "parallel": w.parallel} for w in self.waves],
            "package": {"kind": self.package.kind, "location": self.package.location, "sha256": self.package.sha256},
            "vm_default": _handling_dict(self.vm_default),
            "vm_overrides": {k: _handling_dict(v) for k, v in self.vm_overrides.items()},
            "window_start": None if self.window_start is None else format_time(self.window_start),
            "stop_on_failure": self.stop_on_failure,
            "gate": {"soak_minutes": self.gate.soak_minutes, "no_critical_findings": self.gate.no_critical_findings,
                     "heartbeats_back": self.gate.heartbeats_back, "vms_in_prior_state": self.gate.vms_in_prior_state},
            "reboot_timeout_s": self.reboot_timeout_s,
            "notice": self.notice,
            "confirm_promotion": self.confirm_promotion,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PatchPlan:
        """A plan from its JSON form; anything malformed is a PlanError naming the part."""
        if not isinstance(d, Mapping):
            raise PlanError("a patch plan must be a JSON object")
        try:
            waves = []
            for w in _seq(d.get("waves"), "waves"):
                hosts = _seq(_obj(w, "wave").get("hosts"), "wave hosts")
                if not all(isinstance(h, str) and h.strip() for h in hosts):
                    raise PlanError("wave hosts must be host names")
                waves.append(Wave(str(w.get("name") or "wave"), tuple(h.strip() for h in hosts),
                                  int(w.get("parallel", 1))))
            package = _opt_obj(d, "package")
            overrides = _opt_obj(d, "vm_overrides")
            return cls(
                kb=str(d["kb"]).strip().upper(),
                waves=tuple(waves),
                package=PackageSource(**{k: package[k] for k in ("kind", "location", "sha256")
                                         if package.get(k) is not None}),
                vm_default=VmHandling(**_opt_obj(d, "vm_default")),
                vm_overrides={str(k).lower(): VmHandling(**_obj(v, "vm override")) for k, v in overrides.items()},
                window_start=parse_time(d["window_start"]) if d.get("window_start") else None,
                stop_on_failure=bool(d.get("stop_on_failure", True)),
                gate=HealthGate(**_opt_obj(d, "gate")),
                reboot_timeout_s=float(d.get("reboot_timeout_s", 1800.0)),
                notice=str(d.get("notice", "")),
                confirm_promotion=bool(d.get("confirm_promotion", False)),   # absent in older plans
            )
        except PlanError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"not a valid patch plan: {exc}") from None


def _seq(v: object, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise PlanError(f"{what} must be a list")
    return v


def _opt_obj(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional object member: absent or null is empty, anything else must be an object."""
    v = d.get(key)
    return {} if v is None else _obj(v, key)


def _obj(v: object, what: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise PlanError(f"{what} must be an object")
    return v


def _handling_dict(h: VmHandling) -> dict[str, Any]:
    return {"action": h.action, "destination": h.destination}


def check_plan(plan: PatchPlan, known_hosts: Iterable[str], needs_update: Mapping[str, bool]) -> list[str]:
    """Problems an admin must fix before the plan can run (empty list = ready).
    ``needs_update`` maps host → whether compliance says it needs the update."""
    known = {h.lower() for h in known_hosts}
    problems = []
    for h in plan.hosts:
        if h.lower() not in known:
            problems.append(f"{h} is not in the host inventory")
        elif not needs_update.get(h, True):
            problems.append(f"{h} does not need {plan.kb} (already compliant or not applicable)")
    for handling in (plan.vm_default, *plan.vm_overrides.values()):
        if handling.destination and handling.destination.lower() in {h.lower() for h in plan.hosts}:
            problems.append(f"live-migration destination {handling.destination} is itself being patched")
    if plan.package.kind == "smb-push" and not plan.package.location:
        problems.append("choose the package file to push")
    if plan.package.kind == "on-host":
        loc = (plan.package.location or "").replace("/", "\\")
        # The host scripts only touch files under C:\hvconsole\ (a folder only admins and
        # SYSTEM may write): a package elsewhere would be refused at install time.
        if not loc.lower().startswith("c:\\hvconsole\\") or "\\..\\" in loc or loc.endswith("\\.."):
            problems.append("a package already on the host must be under C:\\hvconsole\\ "
                            "(e.g. C:\\hvconsole\\packages\\)")
    return problems
