"""One WinRM shell per host, reused across calls, with an overall deadline and a cancel flag.

pywinrm's ``Session.run_ps`` opens and deletes a shell (and a TCP/NTLM connection) per
call and waits forever on a silent host. :class:`HostSession` instead drives
pywinrm's ``Protocol`` operations itself (docs/architecture.md, "Running a shipped script"),
through our own equivalent that sends prepared envelopes (``shell_protocol.py``; pywinrm is
imported only for the NTLM, Kerberos and CredSSP logons, ``wsman_transport.py``):

* the shell is opened lazily with codepage 65001, no profile and every shipped script's
  body in its environment, then reused: a steady-state call is Command + Receive + Signal;
* output is read with ``get_command_output_raw`` in our own loop, so every HTTP request
  gets what is left of the deadline as its timeout and the cancel flag is checked between
  requests (``get_command_output`` would retry operation timeouts forever);
* a shell that is gone or spent (InvalidSelectors, quota, a bare HTTP 400 where a shell
  that answered before is asked to run a command) or that lacks the scripts (loader exit
  86) is replaced, and the call retried once when nothing ran yet;
* a shell is replaced before Windows refuses it: after ``recycle_after_commands``
  commands or ``recycle_after_s`` seconds, at the start of a call ("Shell recycling" below);
* after a timeout or cancel the shell is abandoned and deleted in the background, so the
  next call starts clean without waiting on a host that stopped answering.

A HostSession belongs to one thread at a time (pywinrm sessions are not thread-safe).

Shell recycling. Windows puts two limits on a kept shell. Every command counts as one of
the user's operations until the shell is deleted (a Signal does not release it), and
MaxConcurrentOperationsPerUser defaults to 1,500: at one poll every 5 s a shell hits that
quota fault after ~2 h (https://github.com/diyan/pywinrm/issues/124,
https://github.com/ansible/ansible/issues/23165, https://github.com/WinRb/WinRM/issues/197).
And a shell ends after MaxShellRunTime, 28,800,000 ms by default (MS-WSMV 2.2.4.42
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/7ffb4acd-cf01-4fbe-9e48-7746f5001957);
afterwards the host answers its requests with a bare HTTP 400, not InvalidSelectors
(https://github.com/diyan/pywinrm/issues/325; a shell left idle answers the same,
https://github.com/diyan/pywinrm/issues/377). So the session deletes its shell and opens a
new one at the start of a call once the shell ran ``recycle_after_commands`` commands or
lived ``recycle_after_s`` (well inside both limits): one Delete more than a steady call,
one request fewer than the quota fault's retry (Command fault, Delete, Create, ...). And a
bare 400 to the Command of a shell that ran commands before counts as "shell gone": the
call is retried once on a new shell, whose own answer decides (a request the host really
cannot read fails again there, and is reported).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from . import loader
from .errors import RemoteError, classify, is_bare_bad_request, is_quota, is_shell_gone, seconds_text
from .shell_protocol import TemplatedProtocol
from .target import CancelToken, Target
from .transport import BoundedTransport, megabytes
from .wsman_errors import WinRMOperationTimeoutError

log = logging.getLogger(__name__)

# The Create message carries the script bodies; the host refuses requests larger than its
# MaxEnvelopeSizekb (500 KB by default since Windows Server 2012).
MAX_SHELL_ENV_CHARS = 400_000
# Windows limits one environment variable's value to 32,767 characters
# (SetEnvironmentVariableW), so each script's base64 body must fit in that.
MAX_ENV_VALUE_CHARS = 32_767
# How long a background clean-up of an abandoned shell, or close(), may take.
CLEANUP_DEADLINE_S = 10.0
CLOSE_DEADLINE_S = 5.0
# Replace the shell after this many commands or seconds (module docstring, "Shell
# recycling"). 1,000 commands leave a third of the default 1,500-operation quota to the
# user's other shells (patching, a second console on the same account); an hour is far
# inside the 8 h MaxShellRunTime and the 2 h IdleTimeout, and at 5 s polls it comes first
# (720 commands), so a steady console replaces its shell once an hour.
RECYCLE_AFTER_COMMANDS = 1000
RECYCLE_AFTER_S = 3600.0
# The Delete of a shell being recycled may use this share of what is left of the call's
# deadline; if the host does not answer in time the shell is deleted in the background and
# the call goes on with the rest, so recycling never costs a poll its answer.
RECYCLE_DELETE_SHARE = 0.25
# With a cancel token, a Receive waits at most this long on the host. A cancel itself is
# acted on at once (the transport's watchdog shuts the request's socket down); the cap
# keeps the host's side of an abandoned Receive short as well.
CANCEL_CHECK_S = 5
UTF8_BOM = b"\xef\xbb\xbf"
# Parameter values that cannot change after the call (see HostSession._prepared).
_FLAT = frozenset({str, int, bool, type(None)})


@dataclass(frozen=True)
class ScriptResult:
    stdout: str
    stderr: str
    exit_code: int
    requests: int       # HTTP requests this call sent
    elapsed_ms: int


class ShellRetry(Exception):
    """Internal: the shell is unusable and nothing ran yet; retry on a new shell."""

    def __init__(self, error: RemoteError):
        super().__init__(error.message)
        self.error = error


# The most of a script's answer a session reads (stdout and stderr together): the size of a
# collect answer for some hundred VMs many times over, and bounded so that a host cannot
# flood the console's memory.
MAX_OUTPUT_BYTES = 8 * 2**20


class HostSession:
    """Runs shipped scripts on one host over one reused WinRM shell."""

    def __init__(self, target: Target, *, operation_timeout_s: int = 20,
                 max_output_bytes: int = MAX_OUTPUT_BYTES, scripts: tuple[str, ...] | None = None,
                 recycle_after_commands: int = RECYCLE_AFTER_COMMANDS,
                 recycle_after_s: float = RECYCLE_AFTER_S,
                 clock: Callable[[], float] = time.monotonic):
        """``scripts``: the shipped scripts this session may run (their bodies travel in
        the shell's environment); None means all of them. ``recycle_after_commands`` and
        ``recycle_after_s``: when a call starts by replacing the shell (module docstring);
        ``clock`` measures a shell's age."""
        if operation_timeout_s < 1:
            raise ValueError("operation_timeout_s must be at least 1")
        self.target = target
        self.scripts = scripts
        self.operation_timeout_s = int(operation_timeout_s)
        self.max_output_bytes = int(max_output_bytes)
        self.recycle_after_commands = int(recycle_after_commands)
        self.recycle_after_s = float(recycle_after_s)
        self._clock = clock
        self._shell_opened = 0.0            # self._clock() when the current shell was created
        self._shell_commands = 0            # Commands sent in it (each is an operation until it is deleted)
        self._protocol: TemplatedProtocol | None = None
        self._shell_id: str | None = None
        self._env: dict[str, str] | None = None
        self._retired_requests = 0          # requests of protocols already discarded
        # The last call's script, parameters and prepared command line: a poll's parameters
        # are the same from one poll to the next (the events bookmark moves only when the
        # host logged something), and preparing them again cost ~0.15 ms of a worker's CPU.
        self._last_call: tuple[str, tuple[tuple[str, type, Any], ...], loader.PreparedCall] | None = None
        self._lock = threading.Lock()        # guards _retired_requests and _cleanups
        self._cleanups: list[threading.Thread] = []

    # -- public ------------------------------------------------------------------------

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far by this session (background clean-ups included)."""
        current = _bounded(self._protocol).requests_sent if self._protocol is not None else 0
        with self._lock:
            return self._retired_requests + current

    @property
    def has_shell(self) -> bool:
        return self._shell_id is not None

    def run_script(self, script: str, params: Mapping[str, Any], *, timeout_s: float,
                   cancel: CancelToken | None = None) -> ScriptResult:
        """Run shipped script ``script`` with ``params``; raises :class:`RemoteError`.

        A non-zero exit code is not an error here (the caller judges the answer); it is
        in ``ScriptResult.exit_code``.
        """
        if self.scripts is not None and script not in self.scripts:
            raise ValueError(f"this session carries only {', '.join(self.scripts)}, not {script!r}")
        started = time.monotonic()
        deadline = started + timeout_s
        before = self.requests_sent
        call = self._prepared(script, params)
        try:
            for attempt in (1, 2):
                try:
                    stdout, stderr, code = self._run_once(call, deadline, timeout_s, cancel)
                except ShellRetry as retry:
                    if attempt == 2:
                        raise retry.error from None
                    log.info("%s: retrying on a new shell (%s)", self.target.name, retry.error.message)
                    continue
                if code == loader.EXIT_SCRIPT_NOT_LOADED and attempt == 1:
                    # The loader found no script body in this shell: nothing ran.
                    self._replace_shell_now(deadline)
                    continue
                return ScriptResult(stdout=_decode(stdout), stderr=_decode(stderr), exit_code=code,
                                    requests=self.requests_sent - before,
                                    elapsed_ms=_ms_since(started))
            raise AssertionError("unreachable")  # pragma: no cover
        except RemoteError as err:
            raise err.with_elapsed(_ms_since(started)).scrubbed(self.target.password) from None

    def _prepared(self, script: str, params: Mapping[str, Any]) -> loader.PreparedCall:
        """``loader.prepare_call(script, params)``, reused while the parameters are the same:
        the same names in the same order with values of the same type and equal (so the
        same JSON text). Only values that cannot change afterwards are compared (str, int,
        bool, None: not floats, whose -0.0 equals 0.0, nor a list or dict the caller may
        change in place); any other parameters are prepared every time."""
        key = tuple((name, type(value), value) for name, value in params.items())
        last = self._last_call
        if last is not None and last[0] == script and last[1] == key:
            return last[2]
        call = loader.prepare_call(script, params)
        if all(kind in _FLAT for _, kind, _ in key):
            self._last_call = (script, key, call)
        return call

    def close(self) -> None:
        """Delete the shell (bounded wait) and drop the connection. Never raises.
        The session may be used again afterwards; it reopens lazily."""
        if self._protocol is not None and self._shell_id is not None:
            self._arm(time.monotonic() + CLOSE_DEADLINE_S, None, CLOSE_DEADLINE_S)
            try:
                self._protocol.close_shell(self._shell_id, close_session=True)
            except Exception as exc:  # best effort: the host may be gone
                log.debug("%s: closing shell failed: %r", self.target.name, exc)
        self._shell_id = None
        self._drop_protocol()
        with self._lock:
            threads = list(self._cleanups)
        end = time.monotonic() + CLOSE_DEADLINE_S
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))

    # -- what the collect loop (collect_loop.py) shares: the shell, its rules, the deadline

    @property
    def shell_id(self) -> str | None:
        return self._shell_id

    def recycle_due(self) -> bool:
        """Would the next call start by replacing the shell (module docstring)?"""
        return self._shell_id is not None and (
            self._shell_commands >= self.recycle_after_commands
            or self._clock() - self._shell_opened >= self.recycle_after_s)

    def loop_start(self, call: loader.PreparedCall, deadline: float, timeout_s: float,
                   cancel: CancelToken | None) -> tuple[TemplatedProtocol, str, str]:
        """Start a long-running command (the collect loop) with stdin as a pipe, on this
        session's shell after the same recycle and shell rules as a call. Returns the
        protocol, shell and command ids; raises :class:`RemoteError`, or
        :class:`ShellRetry` when the shell was gone and nothing ran (retry once)."""
        # stdin a pipe (not a console): the requests are lines written to it one by one.
        return self._start_command(call, deadline, timeout_s, cancel, stdin_pipe=True)

    def arm(self, deadline: float, cancel: CancelToken | None, timeout_s: float | None,
            *, receive: bool = False) -> None:
        """Before each request of a loop's poll (see ``_arm``)."""
        self._arm(deadline, cancel, timeout_s, receive=receive)

    def fail_running(self, exc: Exception, command_id: str, deadline: float, timeout_s: float) -> Exception:
        """A loop's poll failed while its command ran: the error to raise; the shell is
        handled as after a failed call (deleted in the background, the command signalled)."""
        return self._fail(exc, "running", command_id, deadline, timeout_s)

    def signal_done(self, protocol: TemplatedProtocol, shell_id: str, command_id: str, deadline: float) -> None:
        """Signal terminate for a command; if that fails the shell is replaced next time."""
        self._signal_done(protocol, shell_id, command_id, deadline)

    # -- one attempt ---------------------------------------------------------------------

    def _start_command(self, call: loader.PreparedCall, deadline: float, timeout_s: float,
                       cancel: CancelToken | None, *, stdin_pipe: bool) -> tuple[TemplatedProtocol, str, str]:
        """The shell (replaced first when due, opened when missing) and ``call`` started on
        it: the protocol, shell and command ids. A failure is already judged (``_fail``)."""
        stage = "shell"
        # On a retry there is no shell here any more, so this acts on a call's first attempt.
        self._recycle_if_due(deadline)
        reused = self._shell_id is not None     # opened by an earlier call, not this attempt
        try:
            self._ensure_shell(deadline, timeout_s, cancel)
            protocol, shell_id = self._protocol, self._shell_id
            assert protocol is not None and shell_id is not None
            stage = "command"
            self._arm(deadline, cancel, timeout_s)
            # Direct CreateProcess (no cmd.exe): one process less, and no cmd.exe parsing
            # of the command line. powershell.exe is found on the system path.
            self._shell_commands += 1           # the host counts it even if the answer is lost
            command_id = protocol.run_command(shell_id, call.command, [call.arguments],
                                              console_mode_stdin=not stdin_pipe, skip_cmd_shell=True)
        except ShellRetry:
            raise
        except Exception as exc:
            raise self._fail(exc, stage, None, deadline, timeout_s, reused=reused) from None
        return protocol, shell_id, command_id

    def _run_once(self, call: loader.PreparedCall, deadline: float, timeout_s: float,
                  cancel: CancelToken | None) -> tuple[bytes, bytes, int]:
        protocol, shell_id, command_id = self._start_command(call, deadline, timeout_s, cancel,
                                                             stdin_pipe=call.stdin is not None)
        try:
            if call.stdin is not None:
                self._arm(deadline, cancel, timeout_s)
                protocol.send_command_input(shell_id, command_id, call.stdin, end=True)
            stdout, stderr, code = self._receive_all(protocol, shell_id, command_id, deadline,
                                                     timeout_s, cancel)
        except ShellRetry:
            raise
        except Exception as exc:
            raise self._fail(exc, "running", command_id, deadline, timeout_s) from None
        self._signal_done(protocol, shell_id, command_id, deadline)
        return stdout, stderr, code

    def _receive_all(self, protocol: TemplatedProtocol, shell_id: str, command_id: str, deadline: float,
                     timeout_s: float, cancel: CancelToken | None) -> tuple[bytes, bytes, int]:
        out = bytearray()
        err = bytearray()
        while True:
            self._arm(deadline, cancel, timeout_s, receive=True)
            try:
                o, e, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue  # the host had nothing new within OperationTimeout; ask again
            out += o
            err += e
            if len(out) + len(err) > self.max_output_bytes:
                raise RemoteError("protocol", f"the answer from {self.target.name} is larger than "
                                              f"{megabytes(self.max_output_bytes)}")
            if done:
                return bytes(out), bytes(err), code

    def _signal_done(self, protocol: TemplatedProtocol, shell_id: str, command_id: str, deadline: float) -> None:
        """Signal terminate for a finished command. If there is no time left or it fails,
        the result stands and the shell is replaced next time."""
        if deadline - time.monotonic() <= 0.05:
            self._discard_shell(abandon=True, command_id=command_id)
            return
        try:
            self._arm(deadline, None, None)
            protocol.cleanup_command(shell_id, command_id)
        except Exception as exc:
            log.info("%s: Signal after a finished command failed: %r", self.target.name, exc)
            self._discard_shell(abandon=True, command_id=command_id)

    def _fail(self, exc: Exception, stage: str, command_id: str | None, deadline: float,
              timeout_s: float, *, reused: bool = False) -> Exception:
        """Turn a failure into the RemoteError to raise (or a retry), and decide what
        happens to the shell."""
        error = classify(exc, host=self.target.name, timeout_s=timeout_s)
        if is_quota(exc):
            # A quota fault at Create: a new shell will not help, report it. At Command: this
            # shell's operations are spent (a Signal does not release them); deleting it
            # gives them back, and must happen before the new shell asks for its own.
            if stage == "command":
                self._replace_shell_now(deadline)
                return ShellRetry(error)
            self._discard_shell(abandon=stage == "running", command_id=command_id)
            return error
        if is_shell_gone(exc):
            # On Command the shell itself is unknown: nothing to delete, and nothing ran.
            # On Receive/Signal it may be only the command, so the shell is still deleted.
            self._discard_shell(abandon=stage == "running", command_id=command_id)
            return ShellRetry(error) if stage == "command" else error
        if stage == "command" and reused and is_bare_bad_request(exc):
            # A shell past MaxShellRunTime (or idle too long) answers a bare 400 (module
            # docstring), and a Command that got one did not run. Retry on a new shell; the
            # old one is deleted in the background in case it was alive after all (it would
            # hold its operations against the user's quota until its idle timeout).
            self._discard_shell(abandon=True)
            return ShellRetry(error)
        if stage != "shell" or error.kind == "timeout":
            # The shell's state is unknown (timeout, cancel, oversized or garbled answer, or a
            # connection that dropped mid-command): it may live on and count against the
            # per-user shell quota for its 2-hour idle timeout, so delete it in the
            # background; that gives up quickly if the host is really gone.
            self._discard_shell(abandon=True, command_id=command_id)
        elif error.kind in ("refused", "auth", "tls"):
            # The shell was never created: nothing to clean up; start over next time.
            self._discard_shell(abandon=False)
        return error

    # -- shell and protocol lifecycle ---------------------------------------------------

    def _ensure_shell(self, deadline: float, timeout_s: float, cancel: CancelToken | None) -> None:
        if self._shell_id is not None:
            return
        if self._protocol is None:
            self._protocol = self._new_protocol()
        env = self._shell_env()
        self._arm(deadline, cancel, timeout_s)
        self._shell_id = self._protocol.open_shell(codepage=65001, noprofile=True, env_vars=env)
        self._shell_opened = self._clock()
        self._shell_commands = 0
        log.debug("%s: opened shell %s", self.target.name, self._shell_id)

    def _shell_env(self) -> dict[str, str]:
        if self._env is None:
            env = loader.shell_environment(self.scripts)
            for name, value in env.items():
                if len(value) > MAX_ENV_VALUE_CHARS:
                    raise RemoteError("protocol", f"the shipped script {name} ({len(value)} characters "
                                                  f"encoded) exceeds Windows' limit of {MAX_ENV_VALUE_CHARS} "
                                                  f"characters for one environment variable")
            size = sum(len(k) + len(v) for k, v in env.items())
            if size > MAX_SHELL_ENV_CHARS:
                raise RemoteError("protocol", f"the shipped scripts ({size // 1024} KB encoded) no longer "
                                              f"fit in one WinRM shell-creation message")
            self._env = env
        return self._env

    def _new_protocol(self) -> TemplatedProtocol:
        t = self.target
        op = self.operation_timeout_s
        # Our transport: bounded answers, deadline on the body, counting. proxy=None: never
        # route a host through an environment proxy (and pywinrm warns when it would);
        # ca_trust_path None means the OS trust store (trust.py), a CA bundle that bundle alone.
        transport = BoundedTransport(
            endpoint=t.url, username=t.username, password=t.password, service="HTTP",
            ca_trust_path=t.ca_trust_path, read_timeout_sec=op + 10,
            server_cert_validation=t.server_cert_validation, auth_method=t.transport,
            message_encryption="auto", proxy=None, host_label=t.name,
            # base64 inflates by 4/3; the envelope adds a little.
            max_body_bytes=self.max_output_bytes * 4 // 3 + 256 * 1024,
            output_limit_bytes=self.max_output_bytes)
        return TemplatedProtocol(t.url, read_timeout_sec=op + 10, operation_timeout_sec=op,
                                 with_transport=transport)

    def _arm(self, deadline: float, cancel: CancelToken | None, timeout_s: float | None,
             *, receive: bool = False) -> None:
        """Before each request: stop if cancelled or out of time, else set its timeouts."""
        if cancel is not None and cancel.cancelled:
            raise RemoteError("timeout", f"the call to {self.target.name} was cancelled", cancelled=True)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            within = f" within {seconds_text(timeout_s)}" if timeout_s is not None else ""
            raise RemoteError("timeout", f"no answer from {self.target.name}{within}")
        assert self._protocol is not None
        op_cap = min(self.operation_timeout_s, CANCEL_CHECK_S) if receive and cancel is not None \
            else self.operation_timeout_s
        _set_timeouts(self._protocol, deadline, op_cap, cancel=cancel, timeout_s=timeout_s)

    def _drop_protocol(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return
        with self._lock:
            self._retired_requests += _bounded(protocol).requests_sent
        try:
            protocol.transport.close_session()
        except Exception as exc:  # closing sockets of a broken connection may complain
            log.debug("%s: closing HTTP session: %r", self.target.name, exc)

    def _recycle_if_due(self, deadline: float) -> None:
        """At a call's start: replace a shell that ran its share of commands or lived its
        share of time (module docstring). The Delete gets a share of the deadline; whatever
        happens to it, the call goes on and opens a new shell."""
        if self._shell_id is None:
            return
        age = self._clock() - self._shell_opened
        if self._shell_commands < self.recycle_after_commands and age < self.recycle_after_s:
            return
        log.info("%s: replacing the shell after %d commands and %.0f s", self.target.name,
                 self._shell_commands, age)
        now = time.monotonic()
        self._replace_shell_now(min(deadline, now + max(0.0, deadline - now) * RECYCLE_DELETE_SHARE))

    def _replace_shell_now(self, deadline: float) -> None:
        """Delete the current shell before the caller opens a new one (the host is
        answering). Bounded by the call's deadline; falls back to a background delete."""
        if self._protocol is None or self._shell_id is None:
            self._discard_shell(abandon=False)
            return
        try:
            self._arm(deadline, None, None)
            self._protocol.close_shell(self._shell_id, close_session=False)
        except Exception as exc:
            log.info("%s: deleting a spent shell failed: %r", self.target.name, exc)
            self._discard_shell(abandon=True)
            return
        self._shell_id = None

    def _discard_shell(self, *, abandon: bool, command_id: str | None = None) -> None:
        """Forget the current shell and connection. With ``abandon``, delete the shell on
        the host from a background thread with its own connection and deadline."""
        shell_id, self._shell_id = self._shell_id, None
        self._drop_protocol()
        if abandon and shell_id is not None:
            thread = threading.Thread(target=self._cleanup_shell, args=(shell_id, command_id),
                                      name=f"hvc-shell-cleanup-{self.target.name}", daemon=True)
            with self._lock:
                self._cleanups = [t for t in self._cleanups if t.is_alive()]
                self._cleanups.append(thread)
            thread.start()

    def _cleanup_shell(self, shell_id: str, command_id: str | None) -> None:
        protocol = None
        try:
            protocol = self._new_protocol()
            deadline = time.monotonic() + CLEANUP_DEADLINE_S
            for step in ("signal", "delete"):
                if deadline - time.monotonic() <= 0:
                    break
                _set_timeouts(protocol, deadline, self.operation_timeout_s)
                try:
                    if step == "signal" and command_id is not None:
                        protocol.cleanup_command(shell_id, command_id)
                    elif step == "delete":
                        protocol.close_shell(shell_id, close_session=False)
                except Exception as exc:
                    log.debug("%s: clean-up %s of shell %s failed: %r", self.target.name, step, shell_id, exc)
                    if step == "delete" or classify(exc).kind in ("refused", "timeout", "auth", "tls"):
                        break
        except Exception as exc:  # never let a background thread raise
            log.debug("%s: shell clean-up failed: %r", self.target.name, exc)
        finally:
            if protocol is not None:
                with self._lock:
                    self._retired_requests += _bounded(protocol).requests_sent
                with contextlib.suppress(Exception):
                    protocol.transport.close_session()


def _bounded(protocol: TemplatedProtocol) -> BoundedTransport:
    """The protocol's transport: always ours, ``_new_protocol`` puts it there."""
    return cast(BoundedTransport, protocol.transport)


def _set_timeouts(protocol: TemplatedProtocol, deadline: float, operation_cap_s: int, *,
                  cancel: CancelToken | None = None, timeout_s: float | None = None) -> None:
    """The next request may take what is left of the deadline (requests reads
    ``read_timeout_sec`` at send time); the host is asked to answer a second before that
    (OperationTimeout), so that an idle Receive comes back as a retryable fault rather
    than as our own read timeout. The transport ends the request at the deadline or on
    cancel, however slowly the host answers (``transport.py``)."""
    remaining = deadline - time.monotonic()
    protocol.operation_timeout_sec = max(1, min(operation_cap_s, int(remaining) - 1))
    transport = _bounded(protocol)
    transport.read_timeout_sec = max(remaining, 0.001)     # requests takes a float timeout
    transport.deadline = deadline
    transport.cancel = cancel
    transport.timeout_s = timeout_s


def _decode(data: bytes) -> str:
    """UTF-8 (the shell runs codepage 65001); a BOM may lead the stream."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    return data.decode("utf-8", errors="replace")


def _ms_since(started: float) -> int:
    return max(0, int((time.monotonic() - started) * 1000))
