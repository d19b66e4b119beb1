"""A host's patch compliance in one line of the host list, and the "fix available" rule.

Both are worked out on the host's poll worker from its newest snapshot that reported a
build and the site's update catalog (read once, on first use, by whichever worker needs it
first: never on the GUI thread). Qt-free, so it is tested without a screen.

The summary folds every catalog entry that targets the host's build into one verdict, worst
first: "needs update (KB…)" > "pending reboot" > "compliant"; "not applicable" when no entry
targets the build, "unknown" when the build is not known (never polled, never answered).
The reasons of :func:`hvconsole.core.compliance.assess` are kept for the tooltip.

The fix rule: a catalog update is a *freeze fix* when one of its symptom lines speaks of VMs
that stop responding, freeze, hang or restart (:data:`FREEZE_SYMPTOM`). A host that needs
such an update (``assess`` says "needs update") and has an active freeze finding (:data:`FREEZE_KINDS`) gets the banner
"Fix available". Deliberately simple: symptoms are free text written by people, so the
rule matches a few plain words rather than pretending to understand them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hvconsole.core import compliance as cc
from hvconsole.core.catalog import Catalog
from hvconsole.core.snapshot import Snapshot

log = logging.getLogger(__name__)

# Worst first: the summary takes the first status any update has.
_ORDER = (cc.NEEDS_UPDATE, cc.PENDING_REBOOT, cc.COMPLIANT)
STATUS_TEXT = {cc.NEEDS_UPDATE: "needs update", cc.PENDING_REBOOT: "pending reboot",
               cc.COMPLIANT: "compliant", cc.NOT_APPLICABLE: "not applicable", cc.UNKNOWN: "unknown"}

# Finding kinds (hvconsole.core.detector.KINDS) that mean "VMs froze, hang or restart".
FREEZE_KINDS = frozenset({
    "heartbeat-lost", "heartbeat-lost-cpu-flat", "heartbeat-lost-cpu-pegged",
    "heartbeat-not-restored", "uptime-stalled", "vm-critical-state", "restart-loop",
    "guest-crash-events", "host-wide-failure",
})
# A catalog symptom line that describes such a freeze (case-insensitive, whole words).
FREEZE_SYMPTOM = re.compile(
    r"\b(stop(s|ped)? respond(ing)?|not respond(ing)?|unresponsive|fr[eo]ze[ns]?|freezing|"
    r"hang(s|ing)?|hung|restart(s|ed|ing)?|heartbeat lost)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FreezeFix:
    """A catalog update the host needs whose symptoms describe a freeze."""

    kb: str
    title: str
    symptom: str          # the first matching symptom line, for the banner


@dataclass(frozen=True, slots=True)
class HostCompliance:
    """What the host list shows in its Compliance column."""

    status: str                       # one of core.compliance's statuses
    text: str                         # "needs update (KB5061906)"
    reasons: tuple[str, ...] = ()     # one per catalog update considered, for the tooltip
    needs: tuple[str, ...] = ()       # KBs the host needs
    freeze_fixes: tuple[FreezeFix, ...] = ()


UNKNOWN_NOT_POLLED = HostCompliance(cc.UNKNOWN, STATUS_TEXT[cc.UNKNOWN], ("not polled yet",))


def is_freeze_fix_symptom(symptom: str) -> bool:
    return FREEZE_SYMPTOM.search(symptom) is not None


def summarize(host: str, snap: Snapshot | None, catalog: Catalog | None,
              problem: str | None = None) -> HostCompliance:
    """The host's compliance against every catalog update that targets its build.
    ``snap`` is the newest snapshot that answered (None: never answered); ``problem``
    says why there is no catalog (it could not be read)."""
    if catalog is None:
        return HostCompliance(cc.UNKNOWN, STATUS_TEXT[cc.UNKNOWN],
                              (problem or "the update catalog could not be read",))
    if snap is None:
        return HostCompliance(cc.UNKNOWN, STATUS_TEXT[cc.UNKNOWN], ("the host has not answered yet",))
    rows = [(u, cc.assess(host, snap, u)) for u in catalog.updates]
    if rows and all(r.status == cc.UNKNOWN for _, r in rows):
        return HostCompliance(cc.UNKNOWN, STATUS_TEXT[cc.UNKNOWN], (rows[0][1].reason,))
    # Updates for this build: those assessed, and those for the build that a condition
    # rules out (e.g. "only hosts with confidential VMs"): their reason is worth reading.
    targeted = [(u, r) for u, r in rows if r.status != cc.NOT_APPLICABLE or r.target is not None]
    known = [(u, r) for u, r in targeted if r.status != cc.NOT_APPLICABLE]
    reasons = tuple(f"{r.kb}: {r.reason}" for _, r in targeted)
    if not known:
        build = _build_text(snap)
        return HostCompliance(cc.NOT_APPLICABLE, STATUS_TEXT[cc.NOT_APPLICABLE],
                              reasons or (f"no update in the catalog targets build {build}",))
    for status in _ORDER:
        hits = [(u, r) for u, r in known if r.status == status]
        if not hits:
            continue
        kbs = tuple(r.kb for _, r in hits)
        text = STATUS_TEXT[status]
        if status in (cc.NEEDS_UPDATE, cc.PENDING_REBOOT):
            text += f" ({', '.join(kbs)})"
        needs = kbs if status == cc.NEEDS_UPDATE else tuple(
            r.kb for _, r in known if r.status == cc.NEEDS_UPDATE)
        fixes = tuple(FreezeFix(u.kb, u.title, symptom)
                      for u, r in known if r.status == cc.NEEDS_UPDATE
                      for symptom in [next((s for s in u.symptoms if is_freeze_fix_symptom(s)), None)]
                      if symptom is not None)
        return HostCompliance(status, text, reasons, needs, fixes)
    # Every applicable update was UNKNOWN for this host (e.g. it did not report a UBR).
    first = next(r for _, r in known)
    return HostCompliance(cc.UNKNOWN, STATUS_TEXT[cc.UNKNOWN], (first.reason,))


def _build_text(snap: Snapshot) -> str:
    os_info = snap.os
    if os_info is None or os_info.build is None:
        return "unknown"
    return f"{os_info.build}" if os_info.ubr is None else f"{os_info.build}.{os_info.ubr}"


def fix_offers(findings: Iterable[Any], fixes_by_host: dict[str, tuple[FreezeFix, ...]]
               ) -> dict[str, tuple[FreezeFix, list[str]]]:
    """``{kb: (fix, [hosts])}`` for every active freeze finding on a host that needs a
    freeze fix (hosts in first-seen order, each once)."""
    offers: dict[str, tuple[FreezeFix, list[str]]] = {}
    for f in findings:
        if not getattr(f, "active", True) or f.kind not in FREEZE_KINDS:
            continue
        for fix in fixes_by_host.get(f.host, ()):
            _, hosts = offers.setdefault(fix.kb, (fix, []))
            if f.host not in hosts:
                hosts.append(f.host)
    return offers


class CatalogSource:
    """The site catalog, loaded once by the first caller (a poll worker thread), shared by
    every worker. ``loader`` defaults to ``patch.site_catalog.load_site_catalog`` (the
    shipped catalog plus the admin's own entries). A catalog that cannot be read is
    remembered as a problem, not retried every poll."""

    def __init__(self, loader: Callable[[], Catalog] | None = None):
        self._loader = loader
        self._lock = threading.Lock()
        self._loaded = False
        self._catalog: Catalog | None = None
        self._problem: str | None = None

    def get(self) -> tuple[Catalog | None, str | None]:
        with self._lock:
            if not self._loaded:
                self._loaded = True
                try:
                    loader = self._loader
                    if loader is None:
                        from hvconsole.patch.site_catalog import load_site_catalog
                        loader = load_site_catalog
                    self._catalog = loader()
                except Exception as exc:   # a broken catalog must not stop polling
                    log.exception("the update catalog could not be read")
                    self._problem = f"the update catalog could not be read: {exc}"
            return self._catalog, self._problem
