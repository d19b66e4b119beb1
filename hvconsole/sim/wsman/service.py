"""The WinRS shell resource: one WS-Management request in, one reply out.

Knows nothing of HTTP or authentication (the caller has already established who the user
is) and nothing of Hyper-V (commands go to the ``ProcessRunner``).
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from . import faults, replies
from .commands import b64_len
from .control import EndpointStats, FaultControl
from .replies import FaultSpec, ShellDescription
from .shells import (
    CommandNotFound,
    QuotaExceeded,
    RunnerFailed,
    ShellExpired,
    ShellNotFound,
    ShellOptions,
    ShellTable,
)
from .soap import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    NS_SHELL,
    RESOURCE_CMD,
    WsmanRequest,
    format_duration,
    parse_duration,
)

_SIGNALS_THAT_STOP = ("terminate", "ctrl_c", "ctrl_break")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Caller:
    user: str
    client_ip: str


class _Fault(Exception):
    def __init__(self, spec: FaultSpec) -> None:
        super().__init__(spec.reason)
        self.spec = spec


class ShellService:
    def __init__(self, shells: ShellTable, faults_control: FaultControl, stats: EndpointStats,
                 *, address: str, machine: str) -> None:
        self._shells = shells
        self._faults = faults_control
        self._stats = stats
        self._address = address          # the endpoint URL, echoed in ResourceCreated
        self._machine = machine          # the Machine attribute of WSManFault

    def handle(self, request: WsmanRequest, caller: Caller) -> Reply:
        self._stats.count_action(request.action_name)
        try:
            injected = self._faults.take_fault()
            if injected is not None:
                raise _Fault(self._injected(injected, request))
            if request.resource_uri != RESOURCE_CMD:
                raise _Fault(faults.action_not_supported())
            handler = {
                ACTION_CREATE: self._create,
                ACTION_COMMAND: self._command,
                ACTION_SEND: self._send,
                ACTION_RECEIVE: self._receive,
                ACTION_SIGNAL: self._signal,
                ACTION_DELETE: self._delete,
            }.get(request.action)
            if handler is None:
                raise _Fault(faults.action_not_supported())
            return Reply(200, handler(request, caller))
        except ShellExpired:
            # Past MaxShellRunTime Windows answers no fault at all (shells.py).
            self._stats.count("expired_shell_requests")
            return Reply(400, b"")
        except ShellNotFound as exc:
            spec = faults.shell_not_found(exc.shell_id)
        except CommandNotFound:
            spec = faults.command_not_found()
        except QuotaExceeded as exc:
            spec = (faults.quota_shells(exc.limit) if exc.what == "shells"
                    else faults.quota_operations(exc.limit))
        except _Fault as exc:
            spec = exc.spec
        self._stats.count("faults")
        return Reply(spec.http_status, replies.fault_response(request.message_id, spec, self._machine))

    def _injected(self, kind: str, request: WsmanRequest) -> FaultSpec:
        if kind == "quota":
            return (faults.quota_shells(self._shells.max_shells_per_user)
                    if request.action == ACTION_CREATE
                    else faults.quota_operations(self._shells.max_operations_per_user))
        if kind == "invalid_selectors":
            return faults.shell_not_found(request.shell_id or "00000000-0000-0000-0000-000000000000")
        return {
            "access_denied": faults.access_denied,
            "encryption_required": faults.encryption_required,
            "operation_timeout": faults.operation_timeout,
            "invalid_parameter": faults.invalid_parameter,
        }[kind]()

    # -- actions ----------------------------------------------------------------------

    def _create(self, request: WsmanRequest, caller: Caller) -> bytes:
        shell_el = request.body_child("Shell")
        if shell_el is None:
            raise _Fault(faults.invalid_parameter())
        env = {
            var.get("Name", ""): var.text or ""
            for var in shell_el.iterfind(f"{{{NS_SHELL}}}Environment/{{{NS_SHELL}}}Variable")
        }
        try:
            codepage = int(request.options.get("WINRS_CODEPAGE", "437"))
        except ValueError:
            raise _Fault(faults.invalid_parameter()) from None
        options = ShellOptions(
            environment=env,
            codepage=codepage,
            noprofile=request.options.get("WINRS_NOPROFILE", "FALSE").upper() == "TRUE",
            working_directory=_child_text(shell_el, "WorkingDirectory"),
            idle_timeout_s=parse_duration(_child_text(shell_el, "IdleTimeOut")),
            input_streams=_child_text(shell_el, "InputStreams") or "stdin",
            output_streams=_child_text(shell_el, "OutputStreams") or "stdout stderr",
        )
        shell = self._shells.create(caller.user, caller.client_ip, options)
        return replies.create_response(request.message_id, ShellDescription(
            shell_id=shell.shell_id, address=self._address, owner=caller.user,
            client_ip=caller.client_ip, environment=env,
            working_directory=options.working_directory,
            idle_timeout=format_duration(shell.idle_timeout_s),
            input_streams=options.input_streams, output_streams=options.output_streams,
        ))

    def _command(self, request: WsmanRequest, caller: Caller) -> bytes:
        shell = self._shells.get(request.shell_id, caller.user)
        line_el = request.body_child("CommandLine")
        command = _child_text(line_el, "Command") if line_el is not None else None
        if line_el is None or not command:
            raise _Fault(faults.invalid_parameter())
        # pywinrm sends all arguments as one rsp:Arguments, Windows' own client one per word.
        arguments = [a.text or "" for a in line_el.iterfind(f"{{{NS_SHELL}}}Arguments")]
        try:
            started = self._shells.start_command(shell, " ".join([command, *arguments]))
        except RunnerFailed:
            raise _Fault(faults.provider_failure()) from None
        return replies.command_response(request.message_id, started.command_id)

    def _send(self, request: WsmanRequest, caller: Caller) -> bytes:
        shell = self._shells.get(request.shell_id, caller.user)
        send_el = request.body_child("Send")
        streams = list(send_el.iterfind(f"{{{NS_SHELL}}}Stream")) if send_el is not None else []
        if not streams:
            raise _Fault(faults.invalid_parameter())
        for stream in streams:
            command = self._shells.command(shell, stream.get("CommandId"))
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except (binascii.Error, ValueError):
                raise _Fault(faults.invalid_parameter()) from None
            command.write_stdin(data, (stream.get("End") or "").lower() == "true")
        return replies.send_response(request.message_id)

    def _receive(self, request: WsmanRequest, caller: Caller) -> bytes:
        shell = self._shells.get(request.shell_id, caller.user)
        desired = request.body_child("Receive")
        stream_el = desired.find(f"{{{NS_SHELL}}}DesiredStream") if desired is not None else None
        command_id = stream_el.get("CommandId") if stream_el is not None else None
        if not command_id:
            raise _Fault(faults.invalid_parameter())
        command = self._shells.command(shell, command_id)
        if command.finished:
            raise CommandNotFound(command_id)
        overhead = len(replies.stream_element("stdout", command_id))
        budget = request.max_envelope - replies.receive_overhead(request.message_id, command_id)
        # Room for the two End markers that close a Done reply.
        budget -= 2 * len(replies.stream_element("stderr", command_id, end=True))
        if budget < b64_len(1) + overhead:
            raise _Fault(faults.invalid_parameter())
        batch = command.receive(request.operation_timeout_s, budget, overhead)
        if not batch.chunks and batch.exit_code is None:
            raise _Fault(faults.operation_timeout())
        streams = [replies.stream_element(name, command_id, data) for name, data in batch.chunks]
        if batch.exit_code is not None:
            streams += [replies.stream_element(name, command_id, end=True) for name in ("stdout", "stderr")]
        return replies.receive_response(request.message_id, command_id, streams, batch.exit_code)

    def _signal(self, request: WsmanRequest, caller: Caller) -> bytes:
        shell = self._shells.get(request.shell_id, caller.user)
        signal_el = request.body_child("Signal")
        command_id = signal_el.get("CommandId") if signal_el is not None else None
        code = (_child_text(signal_el, "Code") or "") if signal_el is not None else ""
        if not command_id:
            raise _Fault(faults.invalid_parameter())
        if code.rsplit("/", 1)[-1] in _SIGNALS_THAT_STOP:
            self._shells.remove_command(shell, command_id)
        else:
            self._shells.command(shell, command_id)   # other signals: the command must exist
        return replies.signal_response(request.message_id)

    def _delete(self, request: WsmanRequest, caller: Caller) -> bytes:
        self._shells.delete(request.shell_id, caller.user)
        return replies.delete_response(request.message_id)


def _child_text(parent: ET.Element, local_name: str) -> str | None:
    node = parent.find(f"{{{NS_SHELL}}}{local_name}")
    return node.text.strip() if node is not None and node.text else None
