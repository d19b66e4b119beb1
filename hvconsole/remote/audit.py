"""The health check's remote half: run ``audit.ps1`` on one host with a deadline and a
cancel token, check its one JSON answer, and judge it.

:class:`Auditor` owns its own shell (it carries only ``audit.ps1``; the polling shell
carries only ``collect.ps1``) and never raises for a remote problem: a host that is down,
hung or answering garbage yields a :class:`~hvconsole.core.health.HostAudit` whose error
says why. :func:`audit_host` is what the CLI and the GUI's ``HealthService`` call: one
audit, plus (unless the caller has a recent snapshot) one collect for the patching
rules' compliance, then the pure judge of ``core.health``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from hvconsole.core.catalog import CatalogUpdate
from hvconsole.core.health import (
    AuditContext,
    AuditFormatError,
    HealthThresholds,
    HostAudit,
    LiveView,
    judge_host,
    parse_audit,
)
from hvconsole.core.health.patching import compliance_for
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import utcnow

from .answer import json_document
from .errors import RemoteError
from .session import MAX_OUTPUT_BYTES, HostSession
from .target import CancelToken, Target

log = logging.getLogger(__name__)

SCRIPT = "audit"
# The script bounds its Hyper-V part by vm_query_timeout_ms; the call's deadline leaves room
# for powershell.exe to start, the host part and the answer to travel.
DEFAULT_TIMEOUT_S = 90.0
DEFAULT_VM_QUERY_TIMEOUT_MS = 60_000


class Auditor:
    """Audits one host. Use from one thread at a time (a second call waits for the first,
    bounded by the timeout)."""

    def __init__(self, target: Target, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 vm_query_timeout_ms: int = DEFAULT_VM_QUERY_TIMEOUT_MS, read_bpa: bool = True,
                 clock: Callable[[], datetime] = utcnow, operation_timeout_s: int = 20,
                 max_output_bytes: int = MAX_OUTPUT_BYTES):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.target = target
        self.timeout_s = float(timeout_s)
        # Never let the script's own bound outlast the call's deadline.
        self.vm_query_timeout_ms = int(min(vm_query_timeout_ms, max(1000.0, (timeout_s - 5.0) * 1000)))
        self.read_bpa = read_bpa
        self._clock = clock
        self._session = HostSession(target, operation_timeout_s=operation_timeout_s,
                                    max_output_bytes=max_output_bytes, scripts=(SCRIPT,))
        self._busy = threading.Lock()

    @property
    def session(self) -> HostSession:
        return self._session

    def read(self, cancel: CancelToken | None = None) -> HostAudit:
        """Run audit.ps1 once: a HostAudit with ``answer`` and ``facts`` (no judgement yet),
        or with the error that stopped it. Never raises for remote problems."""
        started = time.monotonic()
        if not self._busy.acquire(timeout=self.timeout_s):
            return self._failed("timeout", f"the previous audit of {self.target.name} is still running")
        try:
            params = {"vm_query_timeout_ms": self.vm_query_timeout_ms, "max_checkpoints": 50, "bpa": self.read_bpa}
            left = self.timeout_s - (time.monotonic() - started)
            result = self._session.run_script(SCRIPT, params, timeout_s=max(1.0, left), cancel=cancel)
            doc = json_document(result, host=self.target.name, script=SCRIPT)
            try:
                facts = parse_audit(doc)
            except AuditFormatError as exc:
                return self._failed("protocol", f"the audit answer from {self.target.name} has a bad field "
                                                f"{exc.field}: {exc.problem}")
            return HostAudit(self.target.name, self._clock(), answer=doc, facts=facts)
        except RemoteError as err:
            return self._failed(err.kind, err.message, cancelled=err.cancelled)
        except Exception as exc:  # a bug must not stop the other hosts' audits; logged in full
            log.exception("%s: unexpected failure while auditing", self.target.name)
            return self._failed("protocol", f"auditing {self.target.name} failed unexpectedly ({type(exc).__name__})")
        finally:
            self._busy.release()

    def close(self) -> None:
        """Delete the remote shell. Never raises; waits for a running audit up to its timeout."""
        if not self._busy.acquire(timeout=self.timeout_s):
            return
        try:
            self._session.close()
        except Exception:
            log.debug("%s: closing the audit session failed", self.target.name, exc_info=True)
        finally:
            self._busy.release()

    def _failed(self, kind: str, message: str, *, cancelled: bool = False) -> HostAudit:
        return HostAudit(self.target.name, self._clock(), error_kind=kind, error_message=message,
                         cancelled=cancelled)


def judged(audit: HostAudit, thresholds: HealthThresholds, *, now: datetime, snapshot: Snapshot | None = None,
           updates: Iterable[CatalogUpdate] = (), in_maintenance: bool = False,
           live: LiveView | None = None) -> HostAudit:
    """The audit with its judgement (an audit that failed is returned as it is)."""
    if audit.facts is None:
        return audit
    context = AuditContext(now=now, compliance=compliance_for(audit.host, snapshot, updates) if snapshot else (),
                           in_maintenance=in_maintenance, live=live)
    judgement = judge_host(audit.host, audit.facts, thresholds, context)
    if snapshot is None:
        no_snapshot = "host-below-target: no snapshot of the host to decide its compliance"
        judgement = type(judgement)(judgement.host, judgement.problems, (*judgement.skipped, no_snapshot))
    return HostAudit(audit.host, audit.audited_at, audit.error_kind, audit.error_message, audit.answer,
                     audit.facts, judgement)


def audit_host(target: Target, thresholds: HealthThresholds, *, updates: Iterable[CatalogUpdate] = (),
               snapshot: Snapshot | None = None, live: LiveView | None = None, in_maintenance: bool = False,
               cancel: CancelToken | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
               clock: Callable[[], datetime] = utcnow) -> HostAudit:
    """One host's health check: audit.ps1, one collect when no ``snapshot`` is given (the
    patching rules need the running build), the judge. Never raises for remote problems."""
    auditor = Auditor(target, timeout_s=timeout_s, clock=clock)
    try:
        audit = auditor.read(cancel)
    finally:
        auditor.close()
    if audit.facts is None:
        return audit
    if snapshot is None and not (cancel is not None and cancel.cancelled):
        from .collector import Collector
        collector = Collector(target, timeout_s=min(30.0, timeout_s), max_events=0, clock=clock)
        try:
            polled = collector.poll(cancel)
        finally:
            collector.close()
        snapshot = polled if polled.reachable else None
    return judged(audit, thresholds, now=clock(), snapshot=snapshot, updates=updates,
                  in_maintenance=in_maintenance, live=live)
