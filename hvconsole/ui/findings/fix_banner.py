"""The "Fix available" banner: a freeze is active on a host that lacks a catalog update
whose symptoms describe that freeze (the rule: :mod:`.host_compliance`).

One banner per update, naming every host it would fix: "Fix available: KB5061906 for HV01
(Hyper-V VMs stop responding …) — Start the patch wizard". The button opens the wizard on
that update with those hosts. Dismissing hides the offer until another host joins it.
Hosts in a patch run's maintenance window are left out (their findings are expected).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from hvconsole.monitoring.host_compliance import FreezeFix, fix_offers

from .. import theme
from ..monitor.monitor import Monitor

MAX_HOSTS_NAMED = 4
SYMPTOM_CHARS = 90


def offer_text(fix: FreezeFix, hosts: list[str]) -> str:
    named = ", ".join(hosts[:MAX_HOSTS_NAMED])
    if len(hosts) > MAX_HOSTS_NAMED:
        named += f" and {len(hosts) - MAX_HOSTS_NAMED} more"
    symptom = fix.symptom if len(fix.symptom) <= SYMPTOM_CHARS else fix.symptom[:SYMPTOM_CHARS - 1] + "…"
    return f"Fix available: {fix.kb} for {named} ({symptom})"


class FixBanner(QFrame):
    """One offer. ``start(kb, hosts)`` when the admin asks for the wizard."""

    start = Signal(str, object)
    dismissed = Signal(str)

    def __init__(self, fix: FreezeFix, hosts: list[str], can_start: bool,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("fixBanner")
        self.kb = fix.kb
        self.hosts: list[str] = []
        icon = QLabel(self)
        icon.setPixmap(theme.icon("patch").pixmap(20, 20))
        self.label = QLabel(self)
        self.label.setObjectName("fixBannerText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)   # host names and catalog text
        self.label.setWordWrap(True)
        self.start_button = QPushButton("Start the patch wizard", self)
        self.start_button.setObjectName("fixBannerStart")
        self.start_button.clicked.connect(lambda: self.start.emit(self.kb, list(self.hosts)))
        dismiss = QPushButton("Dismiss", self)
        dismiss.setToolTip("Hide this offer (it comes back when another host needs the fix)")
        dismiss.clicked.connect(lambda: self.dismissed.emit(self.kb))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.start_button)
        layout.addWidget(dismiss)
        self.update_offer(fix, hosts, can_start)

    def update_offer(self, fix: FreezeFix, hosts: list[str], can_start: bool) -> None:
        self.hosts = list(hosts)
        self.label.setText(offer_text(fix, hosts))
        self.label.setToolTip(f"{fix.kb}: {fix.title}")
        self.start_button.setEnabled(can_start)
        self.start_button.setToolTip(
            f"Open the patch wizard on {fix.kb} for {', '.join(hosts)}" if can_start
            else "The patch wizard is not available in this window")


class FixOffers(QObject):
    """Keeps one :class:`FixBanner` per offered update in step with the monitor.

    ``add_banner(widget)`` shows a banner (the main window's banner area); a banner is
    removed by deleting it. ``start_wizard(kb, hosts)`` opens the wizard, or None when
    there is no wizard (the button is then disabled)."""

    def __init__(self, monitor: Monitor, add_banner: Callable[[QWidget], None],
                 start_wizard: Callable[[str, list[str]], Any] | None, parent: QObject | None = None):
        super().__init__(parent)
        self._monitor = monitor
        self._add_banner = add_banner
        self._start_wizard = start_wizard
        self.banners: dict[str, FixBanner] = {}
        self._dismissed: dict[str, frozenset[str]] = {}    # kb -> hosts it was dismissed for
        monitor.applied.connect(self._applied)
        monitor.findings.counts_changed.connect(self.refresh)
        monitor.maintenance_changed.connect(self.refresh)
        # Ticks may have been applied before these offers were made (the page comes after
        # a first start's first answers): offer what they hold now, not at the next tick.
        self.refresh()

    def set_wizard(self, start_wizard: Callable[[str, list[str]], Any] | None) -> None:
        self._start_wizard = start_wizard
        self.refresh()

    def offers(self) -> dict[str, tuple[FreezeFix, list[str]]]:
        fixes = {row.name: row.compliance.freeze_fixes for row in self._monitor.hosts.rows()
                 if row.compliance.freeze_fixes}
        if not fixes:
            return {}
        return fix_offers(self._monitor.alerting(self._monitor.findings.active()), fixes)

    def _applied(self, stats: Any) -> None:
        """After a tick. An offer needs a host whose line names a freeze fix and an active
        freeze finding on it; a new finding comes with its host's tick (or changes the
        counts), a fix with its host's line. So while no banner is up or dismissed and no
        host of this tick names a fix, nothing can be offered: the walk over every host's
        line (each tick, for nothing, on most sites) is left out."""
        if not self.banners and not self._dismissed:
            row_for = self._monitor.hosts.row_for
            if not any((row := row_for(host)) is not None and row.compliance.freeze_fixes
                       for host in stats.hosts):
                return
        self.refresh()

    def refresh(self, *args: object) -> None:
        offers = self.offers()
        for kb in [kb for kb in self.banners if kb not in offers]:
            self._remove(kb)
        for kb in [kb for kb in self._dismissed if kb not in offers]:
            del self._dismissed[kb]    # the freeze ended: a new one may be offered again
        can_start = self._start_wizard is not None
        for kb, (fix, hosts) in offers.items():
            dismissed = self._dismissed.get(kb)
            if dismissed is not None:
                if set(hosts) <= dismissed:
                    continue
                del self._dismissed[kb]
            banner = self.banners.get(kb)
            if banner is None:
                banner = FixBanner(fix, hosts, can_start)
                banner.start.connect(self._start)
                banner.dismissed.connect(self._dismiss)
                self.banners[kb] = banner
                self._add_banner(banner)
            elif banner.hosts != hosts or banner.start_button.isEnabled() != can_start:
                banner.update_offer(fix, hosts, can_start)

    def _start(self, kb: str, hosts: list[str]) -> None:
        if self._start_wizard is not None:
            self._start_wizard(kb, hosts)

    def _dismiss(self, kb: str) -> None:
        banner = self.banners.get(kb)
        self._dismissed[kb] = frozenset(banner.hosts if banner is not None else ())
        self._remove(kb)

    def _remove(self, kb: str) -> None:
        banner = self.banners.pop(kb, None)
        if banner is not None:
            banner.hide()
            banner.deleteLater()

    def close(self) -> None:
        for kb in list(self.banners):
            self._remove(kb)
