"""What must be true of a host for a catalog update to apply to it: a small, data-driven
vocabulary of conditions, evaluated against what a host reported.

Microsoft scopes some fixes narrowly: KB5061906 (20348.3695) fixes *confidential* Hyper-V
VMs that stop responding; KB5063877's fix is for clusters with BitLocker-protected cluster
shared volumes (windows-facts-checked, "Wrong or risky"). A catalog entry names the
conditions in ``applies_if`` (all must hold); an admin's own entry for the next
out-of-band fix uses the same names. A name this version does not know is a catalog error
for that entry, never silently ignored.

Each condition answers True (holds), False (does not: the update is not applicable, with
the reason) or None (the host did not report what is needed: the update is treated as
applicable, because "patch it" is the safe side of not knowing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class HostFacts:
    """The facts the conditions read, from a snapshot or a pre-flight answer."""

    vms: tuple[tuple[str, bool | None, bool | None], ...]   # (name, confidential, is_clustered)
    vms_known: bool                       # the VM inventory answered
    cluster_node: bool | None             # None: unknown
    bitlocker_csvs: int | None            # None: unknown (or not a cluster node)

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> HostFacts:
        known = snap.vm_query is None or snap.vm_query.ok
        return cls(vms=tuple((vm.name, vm.confidential, vm.is_clustered) for vm in snap.vms),
                   vms_known=known and snap.reachable,
                   cluster_node=None if not snap.reachable else snap.cluster is not None,
                   bitlocker_csvs=None if snap.cluster is None else snap.cluster.bitlocker_csvs)

    @classmethod
    def from_preflight(cls, doc: Mapping[str, Any]) -> HostFacts:
        vms = tuple((str(vm.get("name")), _opt_bool(vm.get("confidential")), _opt_bool(vm.get("is_clustered")))
                    for vm in doc.get("vms") or [] if isinstance(vm, Mapping))
        cluster = doc.get("cluster")
        csvs = cluster.get("bitlocker_csvs") if isinstance(cluster, Mapping) else None
        return cls(vms=vms, vms_known=isinstance(doc.get("vms"), list),
                   cluster_node=isinstance(cluster, Mapping),
                   bitlocker_csvs=csvs if isinstance(csvs, int) and not isinstance(csvs, bool) else None)


@dataclass(frozen=True, slots=True)
class Verdict:
    holds: bool | None
    reason: str


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    meaning: str                                # what must be true, for the catalog docs
    scope: str                                  # "hosts with confidential VMs"
    evaluate: Callable[[HostFacts], Verdict]


def _names(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")


def _confidential_vms(f: HostFacts) -> Verdict:
    if not f.vms_known:
        return Verdict(None, "whether this host has confidential VMs is unknown: its VM inventory did not answer")
    yes = [name for name, conf, _ in f.vms if conf is True]
    if yes:
        return Verdict(True, f"{len(yes)} confidential VM(s) on this host: {_names(yes)}")
    unknown = [name for name, conf, _ in f.vms if conf is None]
    if unknown:
        return Verdict(None, f"whether {len(unknown)} VM(s) are confidential is unknown (not reported by the host)")
    return Verdict(False, "no confidential VMs on this host")


def _cluster_node(f: HostFacts) -> Verdict:
    if f.cluster_node is None:
        return Verdict(None, "whether this host is a cluster node is unknown")
    return Verdict(True, "a failover-cluster node") if f.cluster_node else Verdict(False, "not a failover-cluster node")


def _bitlocker_csvs(f: HostFacts) -> Verdict:
    if f.cluster_node is False:
        return Verdict(False, "not a failover-cluster node, so no BitLocker-protected cluster shared volumes")
    if f.bitlocker_csvs is None:
        return Verdict(None, "whether the cluster shared volumes use BitLocker is unknown (not reported by the host)")
    if f.bitlocker_csvs > 0:
        return Verdict(True, f"{f.bitlocker_csvs} BitLocker-protected cluster shared volume(s)")
    return Verdict(False, "no BitLocker-protected cluster shared volumes on this cluster")


def _clustered_vms(f: HostFacts) -> Verdict:
    if not f.vms_known:
        return Verdict(None, "whether this host runs clustered VMs is unknown: its VM inventory did not answer")
    yes = [name for name, _, clustered in f.vms if clustered is True]
    if yes:
        return Verdict(True, f"{len(yes)} clustered VM(s) on this host")
    return Verdict(False, "no clustered VMs on this host")


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition("confidential-vms", "the host runs at least one confidential (guest-state isolated) VM",
              "hosts with confidential VMs", _confidential_vms),
    Condition("cluster-node", "the host is a failover-cluster node", "failover-cluster nodes", _cluster_node),
    Condition("bitlocker-csvs", "the host is a cluster node with BitLocker-protected cluster shared volumes",
              "clusters with BitLocker-protected cluster shared volumes", _bitlocker_csvs),
    Condition("clustered-vms", "the host runs at least one clustered VM", "hosts with clustered VMs",
              _clustered_vms),
)}


def scope_text(names: Iterable[str]) -> str:
    """``hosts with confidential VMs`` (several conditions joined with "and")."""
    return " and ".join(CONDITIONS[n].scope for n in names)


def evaluate(names: Iterable[str], facts: HostFacts) -> Verdict:
    """All of ``names`` must hold. The first that does not decides "not applicable"; an
    unknown one makes the answer unknown (treated as applicable by callers)."""
    verdicts = [CONDITIONS[n].evaluate(facts) for n in names]
    if not verdicts:
        return Verdict(True, "")
    for v in verdicts:
        if v.holds is False:
            return Verdict(False, v.reason)
    unknown = [v.reason for v in verdicts if v.holds is None]
    if unknown:
        return Verdict(None, "; ".join(unknown))
    return Verdict(True, "; ".join(v.reason for v in verdicts))


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
