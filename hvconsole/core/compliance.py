"""Does a host need an update? Decided from its latest snapshot, with the reason spelled out.

Proof of a fix is the running build (CurrentBuild.UBR at or above the target on the same
track), because the UBR changes only after the reboot that completes an update; Get-HotFix
only lists CBS-supplied updates, so a KB seen there is supporting evidence, never proof
(hyperv-notes §6).
"""

from __future__ import annotations

from dataclasses import dataclass

from .applicability import HostFacts, evaluate, scope_text
from .catalog import CatalogUpdate
from .snapshot import Snapshot

NEEDS_UPDATE = "needs-update"
COMPLIANT = "compliant"
NOT_APPLICABLE = "not-applicable"
PENDING_REBOOT = "pending-reboot"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Compliance:
    host: str
    kb: str
    status: str
    reason: str
    running: str | None = None     # "20348.3692"
    target: str | None = None      # "20348.3695"
    kb_seen: bool | None = None
    # The catalog's applicability conditions (``applies_if``): True held, False did not
    # (status not-applicable), None unknown or not evaluated; ``reason`` says which.
    applies: bool | None = None

    @property
    def needs_action(self) -> bool:
        return self.status in (NEEDS_UPDATE, PENDING_REBOOT)


def assess(host: str, snap: Snapshot | None, update: CatalogUpdate, track: str = "standard") -> Compliance:
    """Classify one host against one update. ``track`` is the host's servicing track
    (hotpatch hosts have their own UBR sequence and the snapshot cannot tell); callers pass
    "standard" unless the admin said otherwise."""
    if snap is None:
        return Compliance(host, update.kb, UNKNOWN, "never polled")
    if not snap.reachable:
        why = snap.error.message if snap.error else "no answer"
        return Compliance(host, update.kb, UNKNOWN, f"unreachable at last poll: {why}")
    os_info = snap.os
    if os_info is None or os_info.build is None or os_info.ubr is None:
        return Compliance(host, update.kb, UNKNOWN, "the host did not report its build")
    running = f"{os_info.build}.{os_info.ubr}"
    kb_seen = update.kb in os_info.hotfixes
    target = update.target_for(os_info.build, track)
    if target is None:
        builds = ", ".join(sorted({t.version for t in update.targets}))
        return Compliance(host, update.kb, NOT_APPLICABLE,
                          f"{update.kb} targets {builds}; this host runs {running} ({track} track)",
                          running=running, kb_seen=kb_seen)
    evidence = f"{update.kb} {'listed' if kb_seen else 'not listed'} by Get-HotFix"
    if target.reached_by(os_info.build, os_info.ubr):
        if os_info.pending_reboot:
            return Compliance(host, update.kb, COMPLIANT,
                              f"build {running} is at or above {target.version}; another reboot is pending "
                              f"(not needed for this fix); {evidence}",
                              running=running, target=target.version, kb_seen=kb_seen)
        return Compliance(host, update.kb, COMPLIANT,
                          f"build {running} is at or above {target.version}; {evidence}",
                          running=running, target=target.version, kb_seen=kb_seen)
    scope = evaluate(update.applies_if, HostFacts.from_snapshot(snap))
    if scope.holds is False:
        return Compliance(host, update.kb, NOT_APPLICABLE,
                          f"not applicable: {scope.reason} ({update.kb} is for {scope_text(update.applies_if)}; "
                          f"build {running} is below {target.version})",
                          running=running, target=target.version, kb_seen=kb_seen, applies=False)
    if scope.reason:   # the scope first: it is what an admin asks next
        evidence = (f"applies: {scope.reason}" if scope.holds else
                    f"treated as applicable: {scope.reason}") + f"; {evidence}"
    if os_info.pending_reboot and kb_seen:
        return Compliance(host, update.kb, PENDING_REBOOT,
                          f"{update.kb} is installed but the host still runs {running} (below "
                          f"{target.version}): a reboot is pending to complete it",
                          running=running, target=target.version, kb_seen=kb_seen, applies=scope.holds)
    return Compliance(host, update.kb, NEEDS_UPDATE,
                      f"build {running} is below {target.version}; {evidence}"
                      + ("; a reboot is pending for something else" if os_info.pending_reboot else ""),
                      running=running, target=target.version, kb_seen=kb_seen, applies=scope.holds)
