"""Before planning: poll every host once (in parallel) and say, per host, whether it needs
an update, with the reason (``core.compliance``). Used by ``hvconsole patch check`` and
by ``plan``/``run`` to refuse hosts that do not need the update."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from hvconsole.core.catalog import Catalog, CatalogUpdate
from hvconsole.core.compliance import Compliance, assess
from hvconsole.core.patch.notice import AffectedVm
from hvconsole.core.snapshot import Snapshot
from hvconsole.remote.target import CancelToken

from .sites import HostDirectory

MAX_PARALLEL_POLLS = 8


def poll_all(directory: HostDirectory, names: Iterable[str] | None = None,
             cancel: CancelToken | None = None) -> dict[str, Snapshot]:
    """One fresh snapshot per host (unreachable hosts included, as data). A cancel stops
    each poll at its next request boundary (the snapshot then says so)."""
    wanted = list(names) if names is not None else directory.names()

    def poll(name: str) -> Snapshot:
        collector = directory.collector(name)
        try:
            return collector.poll(cancel)
        finally:
            collector.close()
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_POLLS, len(wanted)), thread_name_prefix="survey") as pool:
        snaps = list(pool.map(poll, wanted))
    return {directory.target(n).name: s for n, s in zip(wanted, snaps, strict=True)}


def compliance_table(snaps: dict[str, Snapshot], catalog: Catalog, kb: str | None = None) -> list[Compliance]:
    """Rows of (host, KB): for one KB every host; without, every catalog update that
    targets the host's build (or one "unknown" row when the build is not known)."""
    rows: list[Compliance] = []
    for host, snap in snaps.items():
        if kb is not None:
            update = catalog.get(kb)
            if update is not None:
                rows.append(assess(host, snap, update))
            continue
        build = snap.os.build if snap.reachable and snap.os else None
        relevant = [u for u in catalog.updates if u.target_for(build) is not None]
        if not relevant:
            reason = (f"no update in the catalog targets build {build}" if build is not None
                      else (snap.error.message if snap.error else "the host did not report its build"))
            rows.append(Compliance(host, "-", "unknown" if build is None else "not-applicable", reason))
        assessed = [assess(host, snap, u) for u in relevant]    # newest first, as the catalog sorts
        wanted = [c for c in assessed if c.status != "compliant"]
        # A host that has every relevant fix shows one row: the newest update it has.
        rows += wanted or assessed[:1]
    return rows


def needs_update(snaps: dict[str, Snapshot], update: CatalogUpdate) -> dict[str, bool]:
    return {host: assess(host, snap, update).needs_action for host, snap in snaps.items()}


def affected_vms(snaps: dict[str, Snapshot]) -> list[AffectedVm]:
    """Every VM of the polled hosts, for the stakeholder notice (keyed by id, as the plan's
    per-VM handling is)."""
    return [AffectedVm(vm.id, vm.name, host, vm.state) for host, s in snaps.items() for vm in s.vms]
