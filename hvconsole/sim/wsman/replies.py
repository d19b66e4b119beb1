"""Writing WS-Management replies exactly as a Windows host does.

Every reply copies the captures in ``tests/fixtures/wsman-captures/`` element for element: the
same prefixes, the same namespace declarations per reply kind (a ``ReceiveResponse`` declares
no ``x:``, a ``DeleteResponse`` no ``rsp:``), ``xml:lang="en-US"`` on the envelope, a fresh
``MessageID`` and a ``RelatesTo`` that repeats the request's. All variable text is escaped
here, whoever supplied it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hvconsole.core.guid import random_guid

from .soap import (
    ACTION_FAULT,
    ANONYMOUS,
    NS_ADDRESSING,
    NS_ENUMERATION,
    NS_EVENTING,
    NS_SHELL,
    NS_SOAP,
    NS_TRANSFER,
    NS_WSMAN,
    NS_WSMAN_FAULT,
    NS_WSMAN_MS,
    RESOURCE_CMD,
)
from .xmltext import escape

_PREFIXES = {
    "s": NS_SOAP, "a": NS_ADDRESSING, "x": NS_TRANSFER, "e": NS_EVENTING,
    "n": NS_ENUMERATION, "w": NS_WSMAN, "rsp": NS_SHELL, "p": NS_WSMAN_MS,
}
# Which prefixes Windows declares on the envelope of each kind of reply.
_DECLARED = {
    "full": ("s", "a", "x", "w", "rsp", "p"),
    "receive": ("s", "a", "w", "rsp", "p"),
    "delete": ("s", "a", "w", "p"),
    "fault": ("s", "a", "x", "e", "n", "w", "p"),
}
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
CREATE_RESPONSE = f"{_TRANSFER}/CreateResponse"
DELETE_RESPONSE = f"{_TRANSFER}/DeleteResponse"
COMMAND_RESPONSE = f"{NS_SHELL}/CommandResponse"
SEND_RESPONSE = f"{NS_SHELL}/SendResponse"
RECEIVE_RESPONSE = f"{NS_SHELL}/ReceiveResponse"
SIGNAL_RESPONSE = f"{NS_SHELL}/SignalResponse"
STATE_RUNNING = f"{NS_SHELL}/CommandState/Running"
STATE_DONE = f"{NS_SHELL}/CommandState/Done"


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _new_id() -> str:
    return random_guid().upper()


def envelope(kind: str, action: str, relates_to: str, body: str) -> bytes:
    """A complete reply envelope around ``body`` (already-escaped XML)."""
    declarations = " ".join(f'xmlns:{p}="{_PREFIXES[p]}"' for p in _DECLARED[kind])
    header = (
        f"<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{_new_id()}</a:MessageID>"
        f"<p:ActivityId>{_new_id()}</p:ActivityId>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
    )
    text = f'<s:Envelope xml:lang="en-US" {declarations}>{header}<s:Body>{body}</s:Body></s:Envelope>'
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ShellDescription:
    """What a ``CreateResponse`` tells about the new shell."""

    shell_id: str
    address: str
    owner: str
    client_ip: str
    environment: Mapping[str, str]
    working_directory: str | None
    idle_timeout: str
    input_streams: str
    output_streams: str


def create_response(relates_to: str, shell: ShellDescription) -> bytes:
    sid = escape(shell.shell_id)
    env = ""
    if shell.environment:
        variables = "".join(
            f'<rsp:Variable Name="{_attr(k)}">{escape(v)}</rsp:Variable>'
            for k, v in shell.environment.items()
        )
        env = f"<rsp:Environment>{variables}</rsp:Environment>"
    workdir = (f"<rsp:WorkingDirectory>{escape(shell.working_directory)}</rsp:WorkingDirectory>"
               if shell.working_directory else "")
    body = (
        f"<x:ResourceCreated><a:Address>{escape(shell.address)}</a:Address>"
        f"<a:ReferenceParameters><w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f'<rsp:Shell xmlns:rsp="{NS_SHELL}"><rsp:ShellId>{sid}</rsp:ShellId>'
        f"<rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(shell.owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(shell.client_ip)}</rsp:ClientIP>"
        f"{env}{workdir}"
        f"<rsp:IdleTimeOut>{escape(shell.idle_timeout)}</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(shell.input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(shell.output_streams)}</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        f"<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )
    return envelope("full", CREATE_RESPONSE, relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"
    return envelope("full", COMMAND_RESPONSE, relates_to, body)


def send_response(relates_to: str) -> bytes:
    return envelope("full", SEND_RESPONSE, relates_to, "<rsp:SendResponse/>")


def signal_response(relates_to: str) -> bytes:
    return envelope("full", SIGNAL_RESPONSE, relates_to, "<rsp:SignalResponse/>")


def delete_response(relates_to: str) -> bytes:
    return envelope("delete", DELETE_RESPONSE, relates_to, "")


def stream_element(name: str, command_id: str, data: bytes = b"", end: bool = False) -> str:
    """One ``rsp:Stream``: base64 data, or an empty ``End="true"`` marker."""
    end_attr = ' End="true"' if end else ""
    payload = base64.b64encode(data).decode("ascii")
    return f'<rsp:Stream Name="{_attr(name)}" CommandId="{_attr(command_id)}"{end_attr}>{payload}</rsp:Stream>'


def receive_response(relates_to: str, command_id: str, streams: Iterable[str],
                     exit_code: int | None) -> bytes:
    """``exit_code`` None means the command is still Running."""
    cid = _attr(command_id)
    if exit_code is None:
        state = f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"></rsp:CommandState>'
    else:
        state = (f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                 f"<rsp:ExitCode>{int(exit_code)}</rsp:ExitCode></rsp:CommandState>")
    body = f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"
    return envelope("receive", RECEIVE_RESPONSE, relates_to, body)


def receive_overhead(relates_to: str, command_id: str) -> int:
    """Bytes a ReceiveResponse takes before any Stream element, Done state included."""
    return len(receive_response(relates_to, command_id, (), exit_code=2**31 - 1))


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A WS-Management SOAP fault with Windows' ``WSManFault`` detail."""

    code: str                    # "s:Sender" or "s:Receiver"
    subcode: str                 # e.g. "w:InvalidSelectors"
    reason: str
    wsman_code: int
    message: str
    fault_detail: str | None = None                       # a w:FaultDetail URI
    provider: tuple[str, str] | None = None               # (provider name, dll path)
    http_status: int = 500


def fault_response(relates_to: str, fault: FaultSpec, machine: str) -> bytes:
    detail = f"<w:FaultDetail>{escape(fault.fault_detail)}</w:FaultDetail>" if fault.fault_detail else ""
    message = escape(fault.message)
    if fault.provider:
        name, path = fault.provider
        message = f'<f:ProviderFault provider="{_attr(name)}" path="{_attr(path)}">{message}</f:ProviderFault>'
    body = (
        f"<s:Fault><s:Code><s:Value>{escape(fault.code)}</s:Value>"
        f"<s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f"<s:Detail>{detail}"
        f'<f:WSManFault xmlns:f="{NS_WSMAN_FAULT}" Code="{int(fault.wsman_code)}" Machine="{_attr(machine)}">'
        f"<f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope("fault", ACTION_FAULT, relates_to, body)
