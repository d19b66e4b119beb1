"""The collect loop's life on a session's shell (docs/winrm.md, "The collect loop").

A loop is one ``powershell.exe`` started with the loader's loop form
(``loader.prepare_loop_call``) that answers request lines written to its stdin. A steady
poll is then Send (one line, ``End="false"``) + Receive on a command that keeps running,
instead of Command + Receive + Signal and a process start on the host.

* The line carries a sequence number; Receive goes on until the line with this poll's
  number has arrived. A lower number is a late answer to an earlier poll and is dropped;
  any other line, or output past the session's cap, is a protocol error.
* The loop ends itself (idle, 720 answers, an hour, a bad line): when its command reports
  Done it is signalled and the next poll starts a new one. A loop that answered before and
  is found ended at a poll is replaced within that poll, once.
* A timeout or cancel fails the poll as a one-shot call does: the shell is deleted in the
  background, the loop's command signalled there.
* A new loop that ends, or answers something that is not its first answer, before
  answering raises :class:`LoopUnavailable`: the caller uses the one-shot call instead.
* The shell recycle (1,000 commands or an hour) terminates a running loop first.

Stderr of the loop is read and dropped; its first 4 KB are logged at debug level.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from . import loader
from .errors import RemoteError, is_bare_bad_request
from .session import HostSession, ScriptResult, ShellRetry
from .shell_protocol import TemplatedProtocol
from .target import CancelToken
from .wsman_errors import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

log = logging.getLogger(__name__)

STDERR_LOGGED = 4096
_BOM = b"\xef\xbb\xbf"


class LoopUnavailable(Exception):
    """A new loop gave no first answer although the host took its start and its request
    (it ended, answered out of turn, or stayed silent to the deadline): use the one-shot
    call. ``error``: the poll's own error when no time is left to redo it."""

    def __init__(self, reason: str, error: RemoteError | None = None):
        super().__init__(reason)
        self.reason = reason
        self.error = error


class _LoopEnded(Exception):
    """The loop's command ended (or refused input) before answering this poll."""


class CollectLoop:
    """The loop of one script on one :class:`HostSession` (its thread's alone)."""

    def __init__(self, session: HostSession, script: str = "collect"):
        self.session = session
        self.script = script
        self._call = loader.prepare_loop_call(script)
        self._protocol: TemplatedProtocol | None = None
        self._shell_id: str | None = None
        self._command_id: str | None = None
        self._seq = 0                   # the last request line's number in this loop
        self._answered = 0              # answers this loop gave
        self._out = bytearray()         # stdout not yet taken (a partial line)
        self._stderr_logged = 0
        self.loops_started = 0

    @property
    def running(self) -> bool:
        return self._command_id is not None

    def call(self, params: Mapping[str, Any], *, timeout_s: float,
             cancel: CancelToken | None = None) -> ScriptResult:
        """One poll through the loop; the answer text as a one-shot call's stdout.
        Raises :class:`RemoteError` or :class:`LoopUnavailable`."""
        s = self.session
        started = time.monotonic()
        deadline = started + timeout_s
        before = s.requests_sent
        shell_retries = 0
        restarted = False
        while True:
            try:
                text = self._once(params, deadline, timeout_s, cancel)
                break
            except ShellRetry as retry:
                # The shell was gone when the loop was to start: once on a new shell.
                shell_retries += 1
                if shell_retries > 1:
                    raise retry.error from None
            except _LoopEnded as ended:
                if restarted or ended.args[1] == 0:
                    raise LoopUnavailable(ended.args[0]) from None
                # A loop that answered before has ended (its idle timer, its limits):
                # a new one, within this poll, once.
                restarted = True
        return ScriptResult(stdout=text, stderr="", exit_code=0, requests=s.requests_sent - before,
                            elapsed_ms=max(0, int((time.monotonic() - started) * 1000)))

    def stop(self, deadline: float) -> None:
        """Terminate the running loop (Signal); if that fails the shell is replaced."""
        if self._command_id is not None and self._protocol is not None and self._shell_id is not None \
                and self.session.shell_id == self._shell_id:
            self.session.signal_done(self._protocol, self._shell_id, self._command_id, deadline)
        self._forget()

    # -- one attempt ---------------------------------------------------------------------

    def _once(self, params: Mapping[str, Any], deadline: float, timeout_s: float,
              cancel: CancelToken | None) -> str:
        s = self.session
        if self._command_id is not None and (s.shell_id != self._shell_id or s.recycle_due()):
            # The shell went (a failed call deleted it) or is to be replaced: a recycle
            # terminates the loop first.
            self.stop(deadline)
        if self._command_id is None:
            self._protocol, self._shell_id, self._command_id = s.loop_start(self._call, deadline, timeout_s,
                                                                            cancel)
            self.loops_started += 1
        protocol, shell_id, command_id = self._protocol, self._shell_id, self._command_id
        assert protocol is not None and shell_id is not None and command_id is not None
        answered = self._answered
        self._seq += 1
        line = loader.request_line(self._seq, params)
        sent = False
        try:
            s.arm(deadline, cancel, timeout_s)
            try:
                protocol.send_command_input(shell_id, command_id, line, end=False)
            except (WSManFaultError, WinRMTransportError) as exc:
                if isinstance(exc, WSManFaultError) or (answered and is_bare_bad_request(exc)):
                    # A WS-Man fault to Send: the process no longer takes input (it ended),
                    # or the shell is gone; a bare 400 to a shell that served this loop is
                    # a shell past MaxShellRunTime (session.py, "Shell recycling"). Either
                    # way the loop is over; a new one (on a new shell if need be) follows.
                    raise _LoopEnded(f"the loop refused a request ({exc})", answered) from None
                raise
            sent = True
            return self._receive(protocol, shell_id, command_id, deadline, timeout_s, cancel)
        except _LoopEnded:
            self.stop(deadline)
            raise
        except Exception as exc:
            self._forget()
            error = s.fail_running(exc, command_id, deadline, timeout_s)
            if answered == 0 and isinstance(error, RemoteError) and not error.cancelled and (
                    error.kind == "protocol" or (error.kind == "timeout" and sent)):
                # A new loop that the host started and gave its request, and that answered
                # out of turn or not at all: not a host that is down (docs/winrm.md).
                raise LoopUnavailable(error.message, error) from None
            raise error from None

    def _receive(self, protocol: TemplatedProtocol, shell_id: str, command_id: str, deadline: float,
                 timeout_s: float, cancel: CancelToken | None) -> str:
        s = self.session
        out = self._out
        while True:
            s.arm(deadline, cancel, timeout_s, receive=True)
            try:
                o, e, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue    # nothing yet within OperationTimeout; ask again
            if e:
                self._log_stderr(e)
            out += o
            answer = self._take_answer(out)
            if done:
                # Windows wants a finished command signalled before the shell runs another.
                answered = self._answered
                self.stop(deadline)
                if answer is None:
                    raise _LoopEnded(f"the loop ended with exit code {code} before answering", answered)
                return answer
            if answer is not None:
                self._answered += 1
                return answer
            if len(out) > s.max_output_bytes:
                raise RemoteError("protocol", f"the answer from {s.target.name} is larger than "
                                              f"{s.max_output_bytes // 2**20} MB")

    def _take_answer(self, out: bytearray) -> str | None:
        """This poll's answer from the complete lines in ``out`` (taken out of it), or None."""
        if out.startswith(_BOM):
            del out[:len(_BOM)]
        while (cut := out.find(b"\n")) >= 0:
            line = bytes(out[:cut]).rstrip(b"\r")
            del out[:cut + 1]
            number, _, answer = line.partition(b" ")
            seq = int(number) if number.isdigit() and len(number) <= 10 else -1
            if seq == self._seq:
                return answer.decode("utf-8", errors="replace")
            if 0 < seq < self._seq:
                continue    # a late answer to an earlier poll
            raise RemoteError("protocol", f"the collect loop on {self.session.target.name} answered "
                                          f"out of turn ({line[:60]!r})")
        return None

    def _log_stderr(self, data: bytes) -> None:
        if self._stderr_logged < STDERR_LOGGED:
            part = data[:STDERR_LOGGED - self._stderr_logged]
            self._stderr_logged += len(part)
            log.debug("%s: collect loop stderr: %s", self.session.target.name,
                      part.decode("utf-8", errors="replace"))

    def _forget(self) -> None:
        self._protocol = self._shell_id = self._command_id = None
        self._seq = 0
        self._answered = 0
        self._out.clear()
