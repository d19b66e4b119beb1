"""The wizard's state: one plain object (no Qt) that the pages read and write, like
virt-manager's ``_GuestData`` for its create-VM wizard. The draft plan is the planning
service's :class:`PlanDraft`, the same object the command line builds from its options;
everything else is what the pages learned from the hosts on the way (snapshots,
compliance, the package check, pre-flight verdicts, the review) and, after "Start run",
the run's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvconsole.core.catalog import Catalog
from hvconsole.core.snapshot import Snapshot

from .services import HostPreflight, PackageCheck, PatchPlan, PlanDraft, PlanReview, build_plan

TEST_RING = "test ring"


@dataclass
class WizardState:
    catalog: Catalog
    draft: PlanDraft = field(default_factory=PlanDraft)
    snaps: dict[str, Snapshot] = field(default_factory=dict)
    compliance: list[Any] = field(default_factory=list)        # core.compliance.Compliance rows
    package: PackageCheck | None = None
    preflight: dict[str, HostPreflight] = field(default_factory=dict)
    kept_out: dict[str, str] = field(default_factory=dict)      # host -> why pre-flight kept it out
    review: PlanReview | None = None
    plan: PatchPlan | None = None
    run_id: int | None = None

    # -- the hosts of the draft ------------------------------------------------------------

    def planned_hosts(self) -> list[str]:
        return list(self.draft.pilot) + [h for _, hosts in self.draft.waves for h in hosts]

    def ring_of(self, host: str) -> str | None:
        if host in self.draft.pilot:
            return TEST_RING
        return next((name for name, hosts in self.draft.waves if host in hosts), None)

    def set_rings(self, rings: dict[str, str | None], wave_names: list[str]) -> None:
        """``rings``: host -> TEST_RING, a wave name, or None (left out)."""
        self.draft.pilot = [h for h, r in rings.items() if r == TEST_RING]
        self.draft.waves = [(name, [h for h, r in rings.items() if r == name]) for name in wave_names]
        self.draft.waves = [(n, hs) for n, hs in self.draft.waves if hs]
        self.invalidate_from("package")

    def keep_out(self, host: str, why: str) -> None:
        """Take a host out of the draft (a blocked pre-flight): it cannot be committed."""
        self.kept_out[host] = why
        self.draft.pilot = [h for h in self.draft.pilot if h != host]
        self.draft.waves = [(n, [h for h in hs if h != host]) for n, hs in self.draft.waves]
        self.draft.waves = [(n, hs) for n, hs in self.draft.waves if hs]

    def restore_kept_out(self, rings: dict[str, str]) -> None:
        """Before a pre-flight re-run: hosts kept out go back to the ring they were in."""
        for host in list(self.kept_out):
            ring = rings.get(host)
            if ring == TEST_RING:
                self.draft.pilot.append(host)
            elif ring:
                names = [n for n, _ in self.draft.waves]
                if ring in names:
                    self.draft.waves[names.index(ring)][1].append(host)
                else:
                    self.draft.waves.append((ring, [host]))
        self.kept_out.clear()

    # -- what later pages knew ----------------------------------------------------------------

    def invalidate_from(self, what: str) -> None:
        """A change on one page makes what later pages learned stale."""
        order = ["package", "preflight", "review"]
        for name in order[order.index(what):]:
            if name == "package":
                self.package = None
            elif name == "preflight":
                self.preflight.clear()
            else:
                self.review, self.plan = None, None

    def build(self) -> PatchPlan:
        """The plan of the current draft (PlanError says what is missing)."""
        return build_plan(self.draft, self.catalog)

    def vms_of_plan(self) -> list[tuple[str, Any]]:
        """(host, VmSample) of every VM on a planned host, as the survey saw them."""
        surveyed = [(h, self.snaps.get(h)) for h in self.planned_hosts()]
        return [(h, vm) for h, snap in surveyed if snap is not None for vm in snap.vms]
