"""Reading WS-Management requests: namespaces, actions, header fields and durations.

Clients choose their own prefixes (pywinrm writes ``env:``/``a:``/``w:``, Windows' own client
``s:``/``wsa:``/``wsman:``), so everything here matches on namespace URIs, never on prefixes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_EVENTING = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
NS_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_WSMAN_MS = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{NS_SHELL}/Command"
ACTION_SEND = f"{NS_SHELL}/Send"
ACTION_RECEIVE = f"{NS_SHELL}/Receive"
ACTION_SIGNAL = f"{NS_SHELL}/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Short names used in statistics and logs.
ACTION_NAMES = {
    ACTION_CREATE: "Create",
    ACTION_DELETE: "Delete",
    ACTION_COMMAND: "Command",
    ACTION_SEND: "Send",
    ACTION_RECEIVE: "Receive",
    ACTION_SIGNAL: "Signal",
}

DEFAULT_MAX_ENVELOPE = 153600     # what Windows and pywinrm use
DEFAULT_OPERATION_TIMEOUT_S = 60.0

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str | None) -> float | None:
    """Seconds in an xs:duration such as ``PT20S``, ``PT7200.000S`` or ``P0DT0H1M0S``."""
    if not text:
        return None
    m = _DURATION.match(text.strip())
    if not m or not any(m.groupdict().values()):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def format_duration(seconds: float) -> str:
    """The form Windows uses for IdleTimeOut: ``PT7200.000S``."""
    return f"PT{seconds:.3f}S"


class RequestError(ValueError):
    """The body is not a WS-Management request this endpoint can read."""


@dataclass(frozen=True, slots=True)
class WsmanRequest:
    """One request as read from its envelope: the header's addressing and options, the body."""

    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]              # OptionSet, option names upper-cased
    operation_timeout_s: float
    max_envelope: int
    body: ET.Element = field(repr=False)  # the s:Body element

    @property
    def action_name(self) -> str:
        return ACTION_NAMES.get(self.action, "Other")

    @property
    def shell_id(self) -> str | None:
        return self.selectors.get("ShellId")

    def body_child(self, local_name: str, ns: str = NS_SHELL) -> ET.Element | None:
        return self.body.find(f"{{{ns}}}{local_name}")


def _text(parent: ET.Element, path: str) -> str | None:
    node = parent.find(path)
    return node.text.strip() if node is not None and node.text else None


def parse_request(raw: bytes) -> WsmanRequest:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise RequestError(f"not XML: {exc}") from None
    if root.tag != f"{{{NS_SOAP}}}Envelope":
        raise RequestError("not a SOAP 1.2 envelope")
    header = root.find(f"{{{NS_SOAP}}}Header")
    body = root.find(f"{{{NS_SOAP}}}Body")
    if header is None or body is None:
        raise RequestError("envelope without Header or Body")
    action = _text(header, f"{{{NS_ADDRESSING}}}Action")
    message_id = _text(header, f"{{{NS_ADDRESSING}}}MessageID")
    if not action or not message_id:
        raise RequestError("missing Action or MessageID")
    selectors = {
        sel.get("Name", ""): (sel.text or "").strip()
        for sel in header.iterfind(f"{{{NS_WSMAN}}}SelectorSet/{{{NS_WSMAN}}}Selector")
    }
    options = {
        opt.get("Name", "").upper(): (opt.text or "").strip()
        for opt in header.iterfind(f"{{{NS_WSMAN}}}OptionSet/{{{NS_WSMAN}}}Option")
    }
    timeout = parse_duration(_text(header, f"{{{NS_WSMAN}}}OperationTimeout"))
    try:
        max_env = int(_text(header, f"{{{NS_WSMAN}}}MaxEnvelopeSize") or DEFAULT_MAX_ENVELOPE)
    except ValueError:
        max_env = DEFAULT_MAX_ENVELOPE
    return WsmanRequest(
        action=action,
        message_id=message_id,
        resource_uri=_text(header, f"{{{NS_WSMAN}}}ResourceURI") or "",
        selectors=selectors,
        options=options,
        operation_timeout_s=DEFAULT_OPERATION_TIMEOUT_S if timeout is None else timeout,
        max_envelope=max_env,
        body=body,
    )
