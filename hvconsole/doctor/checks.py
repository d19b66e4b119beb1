"""``hvconsole doctor``: a read-only check of one host, line by line, in the order a problem
would show itself, each line with a verdict and, when it fails, what to do.

The first lines come from the connection test (``remote.probe``): this PC's setup, name
resolution, TCP, TLS, authentication, administrator rights, Hyper-V. Their words and fixes
are the connection test's own, so an admin reads the same sentence in the host dialog, in
``hvconsole hosts test`` and here. The doctor then looks further than the connection test:
what the WinRM port offers (``doctor.listener``), PowerShell's language mode, every shipped
read-only script run once with its answer checked by the parser the product uses for it,
the WinRM quotas, the clock offset and the system drive (``scripts/doctor.ps1``).

Each check has its own deadline (:class:`DoctorTimeouts`) and a cancel token is honoured
between checks. Nothing here changes the host: the scripts run are the read-only ones, and
the stage check asks about a file that does not exist. A check that cannot run because an
earlier one failed says so ("not run") instead of guessing. ``docs/doctor.md`` lists the
checks and their thresholds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from hvconsole.core.inventory import Host, Transport
from hvconsole.core.inventory.book import Password
from hvconsole.core.poll_budget import vm_query_budget_ms
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, parse_time, utcnow
from hvconsole.patch.host_api import PatchHost
from hvconsole.patch.staging import STAGING_DIR
from hvconsole.remote import loader
from hvconsole.remote.answer import COMPRESSED_PREFIX, answer_text, json_document
from hvconsole.remote.collector import snapshot_from_answer
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.probe import Outcome, ProbeResult, judge, probe_host, target_for
from hvconsole.remote.session import HostSession, ScriptResult
from hvconsole.remote.target import CancelToken, Target

from .listener import check_listener

log = logging.getLogger(__name__)

# Thresholds (docs/doctor.md "What passes").
MIN_PS_VERSION = (5, 1)                 # the shipped scripts are written for Windows PowerShell 5.1
MIN_SHELLS_PER_USER = 5                 # a poll shell, a patch run's shells, a connection test, the doctor
MIN_IDLE_TIMEOUT_MS = 60_000            # below a minute the polling shell is dropped between polls
MAX_CLOCK_OFFSET_S = 120.0              # events and graphs disagree; Kerberos refuses at 5 minutes
# The patch pre-flight's own requirement (hvconsole.patch.context.PatchOptions.required_free_mb).
REQUIRED_FREE_MB = 10 * 1024
# The stage check asks about a file that cannot exist: it proves the script runs and reads.
ABSENT_PACKAGE = "C:\\hvconsole\\staging\\hvconsole-doctor-absent.msu"
# The health check's read of the host (issue 14, `hvconsole audit`), run when the build ships it.
HEALTH_SCRIPT = "audit"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_RUN = "not-run"            # an earlier failure (or a cancel) kept it from running
    NOT_APPLICABLE = "n/a"         # does not apply to this host entry (TLS on an HTTP transport)


@dataclass(frozen=True)
class CheckSpec:
    key: str
    title: str


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("client", "This PC's setup"),
    CheckSpec("resolve", "Name resolution"),
    CheckSpec("tcp", "TCP reach"),
    CheckSpec("tls", "TLS certificate"),
    CheckSpec("listener", "WinRM listener and auth scheme"),
    CheckSpec("auth", "Authentication"),
    CheckSpec("admin", "Local administrator"),
    CheckSpec("powershell", "PowerShell version and language mode"),
    CheckSpec("hyperv", "Hyper-V module and VMMS service"),
    CheckSpec("script:probe", "Script probe.ps1"),
    CheckSpec("script:collect", "Script collect.ps1"),
    CheckSpec("script:patch_preflight", "Script patch_preflight.ps1"),
    CheckSpec("script:patch_stage_check", "Script patch_stage_check.ps1"),
    CheckSpec("script:audit", "Script audit.ps1 (health check)"),
    CheckSpec("quotas", "WinRM quotas"),
    CheckSpec("clock", "Clock offset"),
    CheckSpec("disk", "System drive free space"),
)
TITLES = {c.key: c.title for c in CHECKS}

# Which line a failed connection test belongs to (the probe stops at its first failure).
_OUTCOME_LINE = {
    Outcome.CLIENT_SETUP: "client",
    Outcome.NAME_NOT_RESOLVED: "resolve",
    Outcome.REFUSED: "tcp", Outcome.UNREACHABLE: "tcp",
    Outcome.TLS: "tls",
    Outcome.NOT_WINRM: "listener", Outcome.WSMAN_FAULT: "listener",
    Outcome.CREDENTIALS_REJECTED: "auth", Outcome.KERBEROS_NO_TICKET: "auth",
    Outcome.KERBEROS_CLOCK_SKEW: "auth", Outcome.KERBEROS_NO_KDC: "auth", Outcome.KERBEROS_SPN: "auth",
    Outcome.ENCRYPTION_POLICY: "auth",
    Outcome.ACCESS_DENIED: "admin", Outcome.NOT_ADMIN: "admin",
    Outcome.SCRIPT_FAILED: "powershell",
    Outcome.NO_HYPERV_MODULE: "hyperv", Outcome.NO_HYPERV_ROLE: "hyperv", Outcome.VMMS_NOT_RUNNING: "hyperv",
    Outcome.QUOTA: "quotas",
}
_TIMEOUT_LINE = {"setup": "client", "resolve": "resolve", "connect": "tcp", "tls": "tls"}
# Outcomes after which a WinRM shell works: the remaining checks can run.
_SHELL_WORKS = frozenset({Outcome.OK, Outcome.NOT_ADMIN, Outcome.VMMS_NOT_RUNNING, Outcome.NO_HYPERV_MODULE,
                          Outcome.NO_HYPERV_ROLE})
_CONNECTION_LINES = ("client", "resolve", "tcp", "tls", "listener", "auth", "admin", "powershell", "hyperv")


@dataclass(frozen=True)
class DoctorTimeouts:
    """Seconds each check may take (real seconds on the wire)."""

    connection: float = 30.0        # the connection test: resolve .. Hyper-V
    listener: float = 10.0
    doctor: float = 30.0
    collect: float = 60.0
    preflight: float = 120.0
    stage_check: float = 60.0
    audit: float = 90.0             # the health check's own deadline (remote.audit.DEFAULT_TIMEOUT_S)


@dataclass(frozen=True)
class CheckResult:
    key: str
    title: str
    verdict: Verdict
    detail: str                       # what was found, one line, never a password
    fix: str = ""                     # what to do, one line ("" unless it failed)
    fault: str = ""                   # a short code of what is wrong ("not-admin", "clock-offset", ...)
    elapsed_ms: int = 0

    @property
    def passed(self) -> bool:
        return self.verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "verdict": self.verdict.value, "detail": self.detail,
                "fix": self.fix, "fault": self.fault, "elapsed_ms": self.elapsed_ms}


@dataclass
class DoctorReport:
    host: str
    started_at: datetime
    results: list[CheckResult] = field(default_factory=list)
    finished_at: datetime | None = None
    cancelled: bool = False
    # The raw stdout of each script run (for the diagnostic bundle), and the snapshot the
    # collect check produced.
    raw_answers: dict[str, str] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    probe: ProbeResult | None = None

    @property
    def ok(self) -> bool:
        """Every check passed (or did not apply): ``hvconsole doctor`` exits 0 only then."""
        return not self.cancelled and len(self.results) == len(CHECKS) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.verdict is Verdict.FAIL]

    def summary(self) -> str:
        """One line: "all 17 checks passed", "2 of 17 checks failed: Clock offset, ..."."""
        if self.cancelled:
            return "cancelled: not every check ran"
        failed = self.failures
        if not failed:
            return f"all {len(self.results)} checks passed"
        return f"{len(failed)} of {len(self.results)} checks failed: {', '.join(r.title for r in failed)}"

    def result(self, key: str) -> CheckResult | None:
        return next((r for r in self.results if r.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "ok": self.ok, "cancelled": self.cancelled,
                "started_at": format_time(self.started_at),
                "finished_at": format_time(self.finished_at) if self.finished_at else None,
                "summary": self.summary(), "checks": [r.to_dict() for r in self.results]}


def host_for_target(target: Target) -> Host:
    """The inventory entry that reaches ``target`` (the demo site's hosts are Targets only)."""
    parts = urlsplit(target.url)
    transport = {"plaintext": Transport.PLAINTEXT, "ntlm": Transport.HTTPS if parts.scheme == "https"
                 else Transport.NTLM, "ssl": Transport.HTTPS_BASIC, "kerberos": Transport.KERBEROS,
                 "credssp": Transport.CREDSSP}[target.transport]
    verify = target.server_cert_validation == "validate" if transport.uses_tls else True
    return Host(name=target.name, address=parts.hostname or target.name, username=target.username,
                transport=transport, port=parts.port, ca_bundle=target.ca_trust_path if verify else None,
                verify_tls=verify)


def run_doctor(host: Host, password: Password | str, *, clock: Callable[[], datetime] = utcnow,
               cancel: CancelToken | None = None, timeouts: DoctorTimeouts = DoctorTimeouts(),
               on_result: Callable[[CheckResult], None] | None = None,
               session_factory: Callable[[Target], HostSession] | None = None) -> DoctorReport:
    """Run every check against ``host`` (``password``: a Secret or text). Never raises for
    anything the host or the network does; ``on_result`` is called (on this thread) with
    each line as soon as its verdict is known, in :data:`CHECKS` order. ``clock``: the
    console's idea of the host's time (the demo site's hosts keep their own clock)."""
    return _DoctorRun(host, password, clock, cancel, timeouts, on_result, session_factory).run()


class _DoctorRun:
    def __init__(self, host: Host, password: Password | str, clock: Callable[[], datetime], cancel: CancelToken | None,
                 timeouts: DoctorTimeouts, on_result: Callable[[CheckResult], None] | None,
                 session_factory: Callable[[Target], HostSession] | None):
        self.host, self.password, self.clock, self.cancel = host, password, clock, cancel
        self.t, self.on_result = timeouts, on_result
        self.session_factory = session_factory or (lambda target: HostSession(target, scripts=_scripts()))
        self.report = DoctorReport(host=host.name, started_at=utcnow())
        self.facts: dict[str, Any] = {}
        self.doctor_doc: dict[str, Any] | None = None
        self.doctor_error: str | None = None
        self.clock_sample: tuple[datetime, datetime, float] | None = None   # host time, console midpoint, ±s

    # -- the run -----------------------------------------------------------------------

    def run(self) -> DoctorReport:
        try:
            self._run()
        except Exception as exc:   # a bug must still leave every line with a verdict
            log.error("the doctor failed unexpectedly on %s", self.host.name, exc_info=True)
            self._rest(Verdict.FAIL, f"the doctor failed unexpectedly ({type(exc).__name__})",
                       "please report this with a diagnostic bundle; the log has details", "internal")
        finally:
            self.close()
        self.report.finished_at = utcnow()
        return self.report

    def _run(self) -> None:
        started = time.monotonic()
        probe = probe_host(self.host, self.password, timeout_s=self.t.connection, cancel=self.cancel)
        self.report.probe = probe
        self.facts = dict(probe.facts)
        if probe.outcome is Outcome.CANCELLED:
            return self._cancelled()
        failing = _OUTCOME_LINE.get(probe.outcome)
        if probe.outcome is Outcome.TIMEOUT:
            failing = _TIMEOUT_LINE.get(probe.step, "listener")
        probe_ms = probe.elapsed_ms
        self._connection_lines(probe, failing, probe_ms, started)
        if probe.outcome not in _SHELL_WORKS:
            for spec in CHECKS:
                if spec.key == failing:     # a line after the connection lines (the quotas)
                    self._emit(spec.key, Verdict.FAIL, probe.message, probe.hint, probe.outcome.value, probe_ms)
                else:
                    self._emit(spec.key, Verdict.NOT_RUN, "needs a working WinRM session "
                               f"({TITLES.get(failing or '', 'see above')} failed)")
            return
        self._host_side_checks(probe)

    def _connection_lines(self, probe: ProbeResult, failing: str | None, probe_ms: int, started: float) -> None:
        """Client .. Hyper-V: the connection test's verdicts, and the listener check."""
        lines = _CONNECTION_LINES
        shell = probe.outcome in _SHELL_WORKS
        if failing in lines:
            limit = lines.index(failing)
        elif probe.outcome is Outcome.QUOTA:
            limit = lines.index("admin")        # logged on, but no shell could be opened
        else:
            limit = len(lines)
        for index, key in enumerate(lines):
            if self._stopping():
                return self._cancelled()
            if key == "tls" and not self.host.transport.uses_tls:
                self._emit(key, Verdict.NOT_APPLICABLE, f"the {self.host.transport.value} transport does not use TLS")
            elif key == "listener":
                if limit < index:
                    self._emit(key, Verdict.NOT_RUN, f"needs {TITLES[failing or 'tcp'].lower()} to pass first")
                else:
                    self._listener_line(probe if failing == "listener" else None)
            elif key == failing:
                self._emit(key, Verdict.FAIL, probe.message, probe.hint, probe.outcome.value, probe_ms)
            elif shell and key in ("admin", "powershell", "hyperv"):
                self._after_probe_line(key, probe)
            elif index < limit:
                self._emit(key, Verdict.PASS, self._passed_detail(key))
            else:
                self._emit(key, Verdict.NOT_RUN, f"needs {TITLES.get(failing or '', 'a WinRM shell').lower()} "
                           "to pass first")

    def _listener_line(self, probe_failure: ProbeResult | None) -> None:
        started = time.monotonic()
        finding = check_listener(self.host, self.t.listener)
        ms = _ms(started)
        if finding.ok and probe_failure is not None:
            # The port is WinRM, yet the connection test failed there (a fault, a hang later on).
            self._emit("listener", Verdict.FAIL, probe_failure.message, probe_failure.hint,
                       probe_failure.outcome.value, ms)
        elif finding.ok:
            self._emit("listener", Verdict.PASS, finding.detail, elapsed_ms=ms)
        else:
            self._emit("listener", Verdict.FAIL, finding.detail, finding.fix, finding.fault, ms)

    def _passed_detail(self, key: str) -> str:
        host = self.host
        return {
            "client": f"this PC can use the {host.transport.value} transport",
            "resolve": f"{host.address} resolves",
            "tcp": f"TCP {host.effective_port} on {host.address} accepts connections",
            "tls": "the host's certificate is trusted and names " + host.address,
            "auth": f"logged on as {self.facts.get('user') or host.username}",
            "admin": f"{self.facts.get('user') or host.username} is a local administrator (elevated token)",
        }.get(key, "passed")

    def _after_probe_line(self, key: str, probe: ProbeResult) -> None:
        """Admin, PowerShell and Hyper-V when a WinRM shell works (whatever the probe judged)."""
        if key == "admin":
            if probe.outcome is Outcome.NOT_ADMIN:
                self._emit(key, Verdict.FAIL, probe.message, probe.hint, probe.outcome.value)
            else:
                self._emit(key, Verdict.PASS, self._passed_detail(key))
        elif key == "powershell":
            self._powershell_line()
        else:
            # The connection test stops judging at "not an administrator"; the Hyper-V facts
            # it read are judged here on their own (judge() with the admin question answered).
            outcome, message, hint = judge(self.host, {**self.facts, "is_admin": True})
            if outcome is Outcome.OK:
                facts = self.facts
                self._emit(key, Verdict.PASS, f"Hyper-V module {facts.get('hyperv_module_version') or 'present'}, "
                           f"vmms {facts.get('vmms')}")
            else:
                self._emit(key, Verdict.FAIL, message, hint, outcome.value)

    def _powershell_line(self) -> None:
        started = time.monotonic()
        self._run_doctor_script()
        ms = _ms(started)
        version = str(self.facts.get("ps_version") or (self.doctor_doc or {}).get("ps_version") or "")
        numbers = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
        if numbers and numbers < MIN_PS_VERSION:
            return self._emit("powershell", Verdict.FAIL, f"PowerShell {version} is older than 5.1",
                              "install Windows Management Framework 5.1 on the host: the shipped scripts are "
                              "written for Windows PowerShell 5.1", "old-powershell", ms)
        if self.doctor_doc is None:
            return self._emit("powershell", Verdict.FAIL, f"PowerShell {version or '?'}; the language mode could "
                              f"not be read: {self.doctor_error}", "PowerShell on the host could not run the check: "
                              "see the Windows PowerShell event log on the host", "script-failed", ms)
        mode = str(self.doctor_doc.get("language_mode") or "")
        if mode != "FullLanguage":
            return self._emit("powershell", Verdict.FAIL, f"PowerShell {version} runs remote sessions in "
                              f"{mode or 'an unknown'} language mode",
                              "the shipped scripts need FullLanguage: an AppLocker or WDAC policy puts remote "
                              "sessions in ConstrainedLanguage; allow the account's remote sessions full "
                              "language or exempt this administrator", "language-mode", ms)
        self._emit("powershell", Verdict.PASS, f"Windows PowerShell {version}, {mode}", elapsed_ms=ms)

    # -- the host-side checks ----------------------------------------------------------

    def _host_side_checks(self, probe: ProbeResult) -> None:
        if self.doctor_doc is None and self.doctor_error is None:
            self._run_doctor_script()       # the PowerShell line did not run it (it failed earlier)
        self._emit("script:probe", Verdict.PASS, "answered and checked by the connection test "
                   f"({probe.elapsed_ms} ms)", elapsed_ms=probe.elapsed_ms)
        self._script_line("script:collect", self._collect)
        self._script_line("script:patch_preflight", self._preflight)
        self._script_line("script:patch_stage_check", self._stage_check)
        if HEALTH_SCRIPT in loader.shipped_scripts():
            self._script_line("script:audit", self._audit)
        else:
            self._emit("script:audit", Verdict.NOT_APPLICABLE, "this build ships no health check script")
        if self._stopping():
            return self._cancelled()
        self._quotas_line()
        self._clock_line()
        self._disk_line()

    def _script_line(self, key: str, check: Callable[[HostSession], str]) -> None:
        if self._stopping():
            return
        started = time.monotonic()
        session = self._session()
        try:
            detail = check(session)
        except RemoteError as err:
            if err.cancelled:
                return self._cancelled()
            fix = ("PowerShell on the host could not run the check: see the Windows PowerShell event log on the "
                   "host" if err.kind == "script" else
                   "the answer does not follow the script's contract: please report it with a diagnostic bundle"
                   if err.kind == "protocol" else
                   "check the host's load and WinRM service (`Restart-Service WinRM`), then run the doctor again")
            return self._emit(key, Verdict.FAIL, err.message, fix, f"script-{err.kind}", _ms(started))
        self._emit(key, Verdict.PASS, detail, elapsed_ms=_ms(started))

    def _collect(self, session: HostSession) -> str:
        # The client's own rule: the VM query gives up before this call's deadline does.
        params = {"events_since": None, "max_events": 50, "vm_query_timeout_ms": vm_query_budget_ms(self.t.collect)}
        result = self._call(session, "collect", params, self.t.collect)
        doc = json_document(result, host=self.host.name, script="collect")
        from hvconsole.core.parse import SnapshotFormatError
        try:
            snap, _ = snapshot_from_answer(doc, self.host.name, self.clock())
        except SnapshotFormatError as exc:
            raise RemoteError("protocol", f"the answer of collect from {self.host.name} breaks snapshot-v1 at "
                              f"{exc.field or '(top level)'}: {exc.problem}") from None
        self.report.snapshot = snap
        query = snap.vm_query
        vms = f"{len(snap.vms)} VMs" + ("" if query is None or query.ok else f" (VM query failed: {query.error})")
        cost = ""
        if snap.collect_ms is not None:
            cost = f", {snap.collect_ms} ms on the host"
        return f"a valid snapshot-v1 answer: {vms}, {len(snap.extra.get('warnings') or ())} warnings{cost}"

    def _preflight(self, session: HostSession) -> str:
        api = PatchHost(self.host.name, _Bounded(self, session, self.t.preflight), _NoSnapshots())
        doc = api.preflight(STAGING_DIR, None, REQUIRED_FREE_MB)
        return (f"a valid answer: build {doc.get('build')}.{doc.get('ubr')}, {len(doc['vms'])} VMs, "
                f"{len(doc.get('warnings') or [])} warnings")

    def _stage_check(self, session: HostSession) -> str:
        api = PatchHost(self.host.name, _Bounded(self, session, self.t.stage_check), _NoSnapshots())
        check = api.stage_check(ABSENT_PACKAGE, None)
        if check.exists:
            raise RemoteError("protocol", f"patch_stage_check says {ABSENT_PACKAGE} exists on {self.host.name}, "
                              "a file nobody creates")
        return "a valid answer: reads files under C:\\hvconsole (asked about one that does not exist)"

    def _audit(self, session: HostSession) -> str:
        from hvconsole.core.health import AuditFormatError, parse_audit
        # The parameters the health check sends (remote.audit.Auditor), its Hyper-V part
        # bounded well inside this check's deadline.
        bound_ms = int(max(1000.0, min(60_000.0, (self.t.audit - 5.0) * 1000)))
        result = self._call(session, HEALTH_SCRIPT, {"vm_query_timeout_ms": bound_ms, "max_checkpoints": 50,
                                                     "bpa": True}, self.t.audit)
        doc = json_document(result, host=self.host.name, script=HEALTH_SCRIPT)
        try:
            facts = parse_audit(doc)
        except AuditFormatError as exc:
            raise RemoteError("protocol", f"the answer of audit from {self.host.name} has a bad field "
                              f"{exc.field}: {exc.problem}") from None
        query = "" if facts.vm_query_ok else f" (VM query failed: {facts.vm_query_error})"
        return (f"a valid answer: {len(facts.vms)} VMs{query}, {len(facts.warnings)} warnings, "
                f"{facts.audit_ms} ms on the host")

    def _run_doctor_script(self) -> None:
        if self._stopping():
            return
        session = self._session()
        try:
            before = self.clock()
            started = time.monotonic()
            result = self._call(session, "doctor", {}, self.t.doctor)
            round_trip = time.monotonic() - started
            doc = json_document(result, host=self.host.name, script="doctor")
        except RemoteError as err:
            self.doctor_error = err.message
            return
        self.doctor_doc = doc
        try:
            host_time = parse_time(str(doc.get("host_time")))
        except ValueError:
            return
        # The script read its clock somewhere inside the call: the midpoint is the best guess,
        # wrong by at most half the round trip (in host seconds for a fast simulated clock).
        after = self.clock()
        midpoint = before + (after - before) / 2
        self.clock_sample = (host_time, midpoint, max((after - before).total_seconds(), round_trip) / 2)

    def _quotas_line(self) -> None:
        doc = self.doctor_doc
        if doc is None:
            return self._emit("quotas", Verdict.FAIL, f"the quotas could not be read: {self.doctor_error}",
                              "see the Windows PowerShell event log on the host", "script-failed")
        winrm = doc["winrm"] if isinstance(doc.get("winrm"), Mapping) else {}
        shells, idle = _int(winrm.get("max_shells_per_user")), _int(winrm.get("idle_timeout_ms"))
        ops = _int(winrm.get("max_concurrent_operations_per_user"))
        if shells is None or idle is None:
            return self._emit("quotas", Verdict.FAIL, "the WinRM quotas could not be read (the WSMan: drive is "
                              "readable by administrators only)", f"add {self.facts.get('user') or self.host.username}"
                              " to the host's local Administrators group (`Add-LocalGroupMember -Group "
                              "Administrators -Member ACCOUNT`): monitoring and patching need it", "quotas-unknown")
        shown = (f"{shells} shells per user, idle timeout {idle // 1000} s"
                 + (f", {ops} operations per user" if ops is not None else ""))
        if shells < MIN_SHELLS_PER_USER:
            return self._emit("quotas", Verdict.FAIL, f"{shown}: fewer than the {MIN_SHELLS_PER_USER} shells the "
                              "console may hold at once", "raise `WSMan:\\localhost\\Shell\\MaxShellsPerUser` (the "
                              "Windows default is 30)", "quota")
        if idle < MIN_IDLE_TIMEOUT_MS:
            return self._emit("quotas", Verdict.FAIL, f"{shown}: the host drops an idle shell within a minute, so "
                              "every poll opens a new one", "raise `WSMan:\\localhost\\Shell\\IdleTimeout` (real hosts "
                              "show 7200000 ms by default)", "quota")
        self._emit("quotas", Verdict.PASS, shown)

    def _clock_line(self) -> None:
        if self.clock_sample is None:
            return self._emit("clock", Verdict.FAIL, "the host's clock could not be read"
                              + (f": {self.doctor_error}" if self.doctor_error else ""),
                              "see the Windows PowerShell event log on the host", "script-failed")
        host_time, console_time, uncertainty = self.clock_sample
        offset = (host_time - console_time).total_seconds()
        side = "ahead of" if offset >= 0 else "behind"
        within = f"±{uncertainty:.1f} s" if uncertainty >= 0.05 else "±0.1 s"
        shown = f"the host's clock is {_duration(abs(offset))} {side} this PC's ({within})"
        if abs(offset) - uncertainty > MAX_CLOCK_OFFSET_S:
            return self._emit("clock", Verdict.FAIL, shown,
                              "the clocks of this computer and the host (or its domain controller) differ by more "
                              "than 2 minutes: sync them (`w32tm /resync` on Windows, NTP/chrony on Linux); "
                              "Kerberos refuses logons beyond 5 minutes", "clock-offset")
        self._emit("clock", Verdict.PASS, shown)

    def _disk_line(self) -> None:
        drive = (self.doctor_doc or {}).get("system_drive")
        drive = drive if isinstance(drive, Mapping) else {}
        free, size = _int(drive.get("free_mb")), _int(drive.get("size_mb"))
        name = str(drive.get("name") or "C:")
        if free is None and self.report.snapshot is not None and self.report.snapshot.resources is not None:
            value = self.report.snapshot.resources.system_drive_free_mb
            free = int(value) if value is not None else None
        if free is None:
            return self._emit("disk", Verdict.FAIL, "the free space of the system drive could not be read",
                              "see the Windows PowerShell event log on the host", "script-failed")
        shown = f"{name} has {free:,} MB free" + (f" of {size:,} MB" if size else "")
        if free < REQUIRED_FREE_MB:
            return self._emit("disk", Verdict.FAIL, f"{shown}; installing an update needs {REQUIRED_FREE_MB:,} MB",
                              f"free space on {name} (`Dism /Online /Cleanup-Image /StartComponentCleanup` removes "
                              "superseded update files, Disk Cleanup (`cleanmgr`) the rest); the patch pre-flight "
                              "refuses the host until then", "disk-full")
        self._emit("disk", Verdict.PASS, shown)

    # -- plumbing ----------------------------------------------------------------------

    def _session(self) -> HostSession:
        if not hasattr(self, "_host_session"):
            self._host_session = self.session_factory(target_for(self.host, self.password))
        return self._host_session

    def _call(self, session: HostSession, script: str, params: Mapping[str, Any], timeout_s: float) -> ScriptResult:
        result = session.run_script(script, params, timeout_s=timeout_s, cancel=self.cancel)
        self.report.raw_answers[script] = _readable_answer(result.stdout, host=self.host.name, script=script)
        return result

    def _stopping(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    def _emit(self, key: str, verdict: Verdict, detail: str, fix: str = "", fault: str = "",
              elapsed_ms: int = 0) -> None:
        if self.report.result(key) is not None:
            return
        result = CheckResult(key, TITLES[key], verdict, detail, fix if verdict is Verdict.FAIL else "",
                             fault if verdict is Verdict.FAIL else "", elapsed_ms)
        self.report.results.append(result)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:   # a display problem must not stop the checks
                log.exception("showing a doctor line failed")

    def _rest(self, verdict: Verdict, detail: str, fix: str, fault: str) -> None:
        for spec in CHECKS:
            self._emit(spec.key, verdict, detail, fix, fault)

    def _cancelled(self) -> None:
        self.report.cancelled = True
        self._rest(Verdict.NOT_RUN, "cancelled", "", "")

    def close(self) -> None:
        session = getattr(self, "_host_session", None)
        if session is not None:
            try:
                session.close()
            except Exception:   # best effort: the host drops an idle shell by itself
                log.debug("closing the doctor's session failed", exc_info=True)


class _Bounded:
    """A script runner for the patch API that keeps the doctor's deadline and raw answers."""

    def __init__(self, run: _DoctorRun, session: HostSession, timeout_s: float):
        self._run, self._session, self._timeout_s = run, session, timeout_s

    def run_script(self, script: str, params: Mapping[str, Any], *, timeout_s: float,
                   cancel: CancelToken | None = None) -> ScriptResult:
        return self._run._call(self._session, script, params, min(timeout_s, self._timeout_s))

    def close(self) -> None:
        pass


class _NoSnapshots:
    def poll(self, cancel: CancelToken | None = None) -> Snapshot:
        raise AssertionError("the doctor takes its snapshot from the collect check")

    def close(self) -> None:
        pass


def _scripts() -> tuple[str, ...]:
    wanted = ("doctor", "collect", "patch_preflight", "patch_stage_check", HEALTH_SCRIPT)
    shipped = set(loader.shipped_scripts())
    return tuple(s for s in wanted if s in shipped)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _readable_answer(stdout: str, *, host: str, script: str) -> str:
    """An answer as the bundle keeps it: JSON text. The collect script sends its answer
    compressed (remote/answer.py); kept that way, the bundle's redaction would neither see
    nor hide the VM names inside it, while anyone could inflate them."""
    if not stdout.lstrip().startswith(COMPRESSED_PREFIX):
        return stdout
    try:
        return answer_text(stdout, host=host, script=script)
    except RemoteError as err:
        return f"(an answer that does not decode: {err.message})"
