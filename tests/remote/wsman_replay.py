"""A loopback HTTP server that replays WS-Management answers (recorded from Windows, or
built here), and builders for answers written the way Windows writes them.

The replay server answers each request with the next recorded answer for that request's
action (anything unexpected is listed in ``problems``). Only ``RelatesTo`` is rewritten,
to the request's ``MessageID``, because pywinrm (rightly) checks it on Signal and Delete.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable, Iterator

import yaml


CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wsman-captures"
SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"


def action_of(xml: str) -> str:
    m = re.search(r"<[^>]*Action[^>]*>([^<]+)</", xml)
    return m.group(1).rsplit("/", 1)[-1] if m else "?"


def message_id_of(xml: str) -> str | None:
    m = re.search(r"<[^>]*MessageID>(uuid:[^<]+)</", xml)
    return m.group(1) if m else None


def load_capture(name: str) -> list["Step"]:
    """The request/response pairs of ``wsman-captures/<name>.yml`` as replay steps."""
    data = yaml.safe_load((CAPTURES / f"{name}.yml").read_text(encoding="utf-8"))
    return [Step(action_of(m["request"]), m["response"]) for m in data["messages"]]


@dataclass
class Step:
    """One expected request (by action) and what to answer. ``body`` may be a callable
    taking the request text; ``status`` defaults to 500 for SOAP faults, else 200."""

    action: str
    body: str | bytes | Callable[[str], str | bytes] = b""
    status: int | None = None
    hang: bool = False          # accept and never answer (until the server stops)
    chunks: Iterator[bytes] | None = None   # stream this body (for huge answers)


@dataclass
class ReplayServer:
    url: str
    steps: list[Step]
    received: list[str] = field(default_factory=list)   # request bodies, in order
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    require_auth: str | None = None   # "Basic ..." header value that is accepted
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def remaining(self) -> int:
        return len(self.steps)

    def next_step(self, request: str) -> Step | None:
        """The first pending step for this request's action. Matching on the action, not
        strictly on position, lets a background clean-up (Signal, Delete on its own
        connection) interleave with the next call without making the test racy."""
        with self.lock:
            self.received.append(request)
            action = action_of(request)
            self.actions.append(action)
            for i, step in enumerate(self.steps):
                if step.action == action:
                    return self.steps.pop(i)
            self.problems.append(f"unexpected request {action}")
            return None


def make_handler(server_state: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = self.rfile.read(length).decode("utf-8", "replace")
            if server_state.require_auth is not None and \
                    self.headers.get("Authorization") != server_state.require_auth:
                self._send(401, b"", extra={"WWW-Authenticate": 'Basic realm="WSMAN"'})
                return
            step = server_state.next_step(request)
            if step is None:
                self._send(500, b"no more recorded answers")
                return
            if step.hang:
                server_state.stop_event.wait(60)
                self.close_connection = True
                return
            if step.chunks is not None:
                self.send_response(step.status or 200)
                self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in step.chunks:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up, as it should on an oversized answer
                self.close_connection = True
                return
            body = step.body(request) if callable(step.body) else step.body
            if isinstance(body, str):
                msg_id = message_id_of(request)
                if msg_id:
                    body = re.sub(r"(<a:RelatesTo>)[^<]*(</a:RelatesTo>)", rf"\g<1>{msg_id}\g<2>", body)
                body = body.encode("utf-8")
            status = step.status or (500 if b":Fault>" in body else 200)
            self._send(status, body)

        def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


# -- building answers the way Windows writes them -----------------------------------------

_ENVELOPE = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header>'
    '<a:Action>{action}</a:Action><a:MessageID>uuid:4A0D4F53-0000-4000-8000-000000000001</a:MessageID>'
    '<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>'
    '<a:RelatesTo>uuid:00000000-0000-0000-0000-000000000000</a:RelatesTo></s:Header>'
    '<s:Body>{body}</s:Body></s:Envelope>'
)
COMMAND_ID = "1B922CC0-CE49-4A7E-AC46-B01C472B49A9"


def receive_answer(stdout: bytes = b"", stderr: bytes = b"", *, done: bool = True,
                   exit_code: int = 0, command_id: str = COMMAND_ID) -> str:
    """A ReceiveResponse as Windows writes it (stdout/stderr base64, CommandState)."""
    streams = []
    if stdout:
        streams.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}">'
                       f'{base64.b64encode(stdout).decode()}</rsp:Stream>')
    if done:
        streams.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>')
    if stderr:
        streams.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}">'
                       f'{base64.b64encode(stderr).decode()}</rsp:Stream>')
    if done:
        streams.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>')
        state = (f'<rsp:CommandState CommandId="{command_id}" State="{SHELL_NS}/CommandState/Done">'
                 f'<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>')
    else:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{SHELL_NS}/CommandState/Running"/>'
    return _ENVELOPE.format(action=f"{SHELL_NS}/ReceiveResponse",
                            body=f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>")


def fault_answer(code: int, subcode: str, text: str) -> str:
    """A WS-Man SOAP fault with a WSManFault detail (HTTP 500)."""
    body = (f'<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{subcode}</s:Value>'
            f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
            f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f'Code="{code}" Machine="127.0.0.1"><f:Message>{text}</f:Message></f:WSManFault>'
            f'</s:Detail></s:Fault>')
    return _ENVELOPE.format(action="http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", body=body)


def steady_steps(stdout: bytes, *, exit_code: int = 0, stderr: bytes = b"") -> list[Step]:
    """Command + Receive + Signal for one call on an open shell, answers from the
    standard capture."""
    cap = {s.action: s for s in load_capture("winrs_standard")}
    return [Step("Command", cap["Command"].body),
            Step("Receive", receive_answer(stdout, stderr, exit_code=exit_code,
                                           command_id="CF84C20A-0A35-43FA-AF78-0B4711DA5F30")),
            Step("Signal", cap["Signal"].body)]


def create_step() -> Step:
    cap = {s.action: s for s in load_capture("winrs_standard")}
    return Step("Create", cap["Create"].body)


def delete_step() -> Step:
    cap = {s.action: s for s in load_capture("winrs_standard")}
    return Step("Delete", cap["Delete"].body)


def loader_params(command_request: str) -> dict | None:
    """The JSON parameters a Command request carries inline (None when sent on stdin):
    decodes the -EncodedCommand loader and the base64 literal inside it."""
    m = re.search(r"-EncodedCommand ([A-Za-z0-9+/=]+)", command_request)
    if not m:
        raise AssertionError("no -EncodedCommand in the Command request")
    loader = base64.b64decode(m.group(1)).decode("utf-16-le")
    p = re.search(r"-HvcParams '([A-Za-z0-9+/=]*)'", loader)
    if not p:
        return None
    return json.loads(base64.b64decode(p.group(1)).decode("utf-8"))
