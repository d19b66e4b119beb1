"""``HealthService``: the health check run per host off the GUI thread, at start and then
every 15 minutes (never every poll), with what the console saw live.

The window hands it the site's targets and feeds it every snapshot its pollers already
have (:meth:`HealthService.observe`, any thread: a few comparisons per VM under a lock).
Each audit runs ``remote.audit.audit_host`` on a background pool with its own deadline and
a cancel token that :meth:`stop` sets; results arrive on the GUI thread and ``updated``
says which host changed. The small read API (:meth:`problem_count`,
:meth:`problems_for_vm`, :meth:`count_text`) is what the host list and the VM detail window
show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from hvconsole.core.health import (
    CRITICAL,
    INFO,
    WARNING,
    HealthThresholds,
    HostAudit,
    LiveTracker,
    Problem,
    count_by_severity,
)
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import utcnow
from hvconsole.remote.target import CancelToken, Target

from ..background import TaskRunner

log = logging.getLogger(__name__)

INTERVAL_S = 15 * 60.0          # issue 14: at start, then every 15 minutes per host
SHUTDOWN_WAIT_S = 0.2     # audits are cancelled first (they end within ~0.1 s); else the pool is parked

AuditFn = Callable[..., HostAudit]


def _default_audit(target: Target, thresholds: HealthThresholds, **kwargs: Any) -> HostAudit:
    from hvconsole.remote.audit import audit_host
    return audit_host(target, thresholds, **kwargs)


class HealthService(QObject):
    updated = Signal(str)            # host name whose audit changed
    running_changed = Signal(bool)   # True while at least one audit runs

    def __init__(self, targets: Sequence[Target], *, thresholds: HealthThresholds | None = None,
                 updates: Iterable[Any] = (), interval_s: float = INTERVAL_S,
                 clock: Callable[[], datetime] | None = None, in_maintenance: Callable[[str], bool] | None = None,
                 audit: AuditFn = _default_audit, runner: Any = None, timeout_s: float = 90.0,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._targets = {t.name: t for t in targets}
        self.thresholds = thresholds or HealthThresholds()
        self._updates = list(updates)
        self._clock = clock or utcnow
        self._in_maintenance = in_maintenance or (lambda _host: False)
        self._audit = audit
        self._timeout_s = timeout_s
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        self._lock = threading.Lock()                 # guards trackers and snapshots (poller threads)
        self._trackers = {name: LiveTracker(name) for name in self._targets}
        self._snapshots: dict[str, Snapshot] = {}
        self._results: dict[str, HostAudit] = {}
        self._running: dict[str, CancelToken] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_s * 1000))
        self._timer.timeout.connect(self.run_now)
        self._stopped = False

    # -- feeding ------------------------------------------------------------------------

    def observe(self, snap: Snapshot) -> None:
        """A poll result (any thread): live history for the memory and Paused-Critical rules,
        and the latest snapshot for the patching rules."""
        with self._lock:
            tracker = self._trackers.get(snap.host)
            if tracker is None:
                return
            tracker.observe(snap)
            if snap.reachable:
                self._snapshots[snap.host] = snap

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Audit every host now, then every interval."""
        self.run_now()
        self._timer.start()

    def run_now(self, host: str | None = None) -> None:
        """Start an audit of ``host`` (or of every host); a host already being audited is left to it."""
        if self._stopped:
            return
        for name in ([host] if host else list(self._targets)):
            if name in self._running or name not in self._targets:
                continue
            token = CancelToken()
            self._running[name] = token
            self._runner.submit(partial(self._work, name, token), partial(self._done, name),
                                partial(self._failed, name))
        self.running_changed.emit(bool(self._running))

    def _work(self, name: str, token: CancelToken) -> HostAudit:
        # On a pool thread: never touches Qt objects.
        with self._lock:
            snapshot = self._snapshots.get(name)
            live = self._trackers[name].view()
        result = self._audit(self._targets[name], self.thresholds, updates=self._updates, snapshot=snapshot,
                             live=live, in_maintenance=self._in_maintenance(name), cancel=token,
                             timeout_s=self._timeout_s, clock=self._clock)
        if result.facts is not None:
            with self._lock:
                self._trackers[name].observe_audit(result.facts)
        return result

    def _done(self, name: str, result: HostAudit) -> None:
        self._running.pop(name, None)
        if not result.cancelled:
            self._results[name] = result
            self.updated.emit(name)
        self.running_changed.emit(bool(self._running))

    def _failed(self, name: str, exc: BaseException) -> None:
        log.error("health check of %s failed", name, exc_info=exc)
        self._done(name, HostAudit(name, self._clock(), error_kind="protocol",
                                   error_message=f"the health check of {name} failed ({type(exc).__name__})"))

    def stop(self) -> None:
        """Cancel running audits and stop the timer; bounded, never waits for a host."""
        self._stopped = True
        self._timer.stop()
        for token in self._running.values():
            token.cancel()
        shutdown = getattr(self._runner, "shutdown", None)
        if shutdown is not None:
            shutdown(time.monotonic() + SHUTDOWN_WAIT_S)

    def show_results(self, audits: Iterable[HostAudit]) -> None:
        """Take audits made elsewhere (``hvconsole audit --screenshot`` already has them)."""
        for audit in audits:
            if audit.host in self._targets:
                self._results[audit.host] = audit
                if audit.facts is not None:
                    with self._lock:
                        self._trackers[audit.host].observe_audit(audit.facts)
                self.updated.emit(audit.host)

    # -- reading ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The hosts' clock (a simulated site's runs faster than real time)."""
        return self._clock()

    @property
    def hosts(self) -> list[str]:
        return list(self._targets)

    @property
    def running(self) -> bool:
        return bool(self._running)

    def audit(self, host: str) -> HostAudit | None:
        return self._results.get(host)

    def audits(self) -> list[HostAudit]:
        return [self._results[h] for h in self._targets if h in self._results]

    def problems(self, host: str | None = None) -> list[Problem]:
        audits = self.audits() if host is None else [a for a in [self._results.get(host)] if a]
        return [p for a in audits for p in a.problems]

    def problem_count(self, host: str, *, at_least: str = WARNING) -> int:
        """Problems of ``host`` at or above ``at_least`` (the host list's number)."""
        rank = {CRITICAL: 0, WARNING: 1, INFO: 2}
        return sum(1 for p in self.problems(host) if rank[p.severity] <= rank[at_least])

    def count_text(self, host: str) -> str:
        """'2 critical, 5 warning' (empty when there is nothing, '?' before the first audit)."""
        audit = self._results.get(host)
        if audit is None:
            return "?"
        if not audit.reachable:
            return "not audited"
        counts = count_by_severity(audit.problems)
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != INFO)

    def problems_for_vm(self, vm_id: str) -> list[Problem]:
        key = vm_id.lower()
        return [p for p in self.problems() if p.vm_id == key]
