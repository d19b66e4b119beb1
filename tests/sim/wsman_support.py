"""Helpers for the WS-Management endpoint tests: a scripted process runner and fixtures.

``ScriptedRunner`` understands a few command lines, enough to replay the Windows captures and
to drive every endpoint behaviour deterministically:

* ``cmd.exe /c`` followed by statements joined with ``&&``: ``echo TEXT`` (``echo TEXT>&2``
  writes stderr), ``set`` (the shell's environment), ``exit N``, ``type con`` (copies stdin to
  stdout as it arrives, until stdin ends), ``sim-gate NAME`` (blocks until the test opens the
  gate), ``sim-big N`` (N bytes of ASCII in 64 KiB writes).
* ``powershell.exe`` followed by statements joined with ``;``: ``Write-Host TEXT``,
  ``Start-Sleep N`` (blocks on the gate named ``Start-Sleep``), ``exit N``.
  ``powershell.exe -`` reads its statements from stdin.

Every statement that prints is one write, and ``read`` hands out one write per call, so the
number of ``rsp:Stream`` elements is predictable. Nothing runs in a background thread: the
script advances inside ``read``, which makes output order independent of scheduling.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import pytest
import requests
import winrm

from hvconsole.sim.wsman import ProcessOutput, WsmanEndpoint

_POLL_S = 0.01
SYSTEM_ENVIRONMENT = {"COMPUTERNAME": "SIMHOST", "ComSpec": r"C:\Windows\system32\cmd.exe",
                      "SystemRoot": r"C:\Windows"}


def encode(text: str, codepage: int) -> bytes:
    codec = {65001: "utf-8", 437: "cp437", 1252: "cp1252"}.get(codepage, "utf-8")
    return text.encode(codec, errors="replace")


@dataclass(frozen=True)
class StartRecord:
    command_line: str
    env: dict[str, str]
    codepage: int


class ScriptedProcess:
    def __init__(self, ops: list[tuple], env: Mapping[str, str], codepage: int,
                 gates: Callable[[str], threading.Event]) -> None:
        self._ops = deque(ops)
        self._env = dict(env)
        self._codepage = codepage
        self._gates = gates
        self._chunks: deque[tuple[str, bytes]] = deque()
        self._cond = threading.Condition()
        self._stdin = bytearray()
        self._stdin_closed = False
        self._exit_code: int | None = None
        self._finished = False
        self.terminated = False
        self.stdin_received = bytearray()

    # -- SimProcess ------------------------------------------------------------------------

    def write_stdin(self, data: bytes, end: bool) -> None:
        with self._cond:
            self._stdin += data
            self.stdin_received += data
            self._stdin_closed = self._stdin_closed or end
            self._cond.notify_all()

    def terminate(self) -> None:
        with self._cond:
            self.terminated = True
            self._cond.notify_all()

    def read(self, timeout_s: float) -> ProcessOutput:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._cond:
                self._advance()
                if self._chunks:
                    name, data = self._chunks.popleft()
                    done = self._finished and not self._chunks
                    return ProcessOutput(data if name == "stdout" else b"",
                                         data if name == "stderr" else b"",
                                         done, self._exit_code if done else None)
                if self._finished:
                    return ProcessOutput(b"", b"", True, self._exit_code)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return ProcessOutput(b"", b"", False, None)
                # Gates are plain Events, so poll them in short slices.
                self._cond.wait(min(remaining, _POLL_S))

    # -- the script ----------------------------------------------------------------------

    def _advance(self) -> None:
        """Run statements until one blocks or the script ends (called with the lock held)."""
        while not self._finished:
            if self.terminated:
                self._finish(None)
                return
            if not self._ops:
                self._finish(0)
                return
            op = self._ops[0]
            kind = op[0]
            if kind == "write":
                self._chunks.append((op[1], encode(op[2], self._codepage)))
            elif kind == "raw":
                self._chunks.append((op[1], op[2]))
            elif kind == "set":
                for key in sorted(self._env, key=str.lower):   # cmd sorts case-insensitively
                    self._chunks.append(("stdout", encode(f"{key}={self._env[key]}\r\n", self._codepage)))
            elif kind == "exit":
                self._finish(op[1])
                return
            elif kind == "gate":
                if not self._gates(op[1]).is_set():
                    return
            elif kind == "echo_stdin":
                if self._stdin:
                    self._chunks.append(("stdout", bytes(self._stdin)))
                    self._stdin.clear()
                if not self._stdin_closed:
                    return
            elif kind == "powershell_stdin":
                if not self._stdin_closed:
                    return
                script = bytes(self._stdin).decode("utf-8", errors="replace")
                self._stdin.clear()
                self._ops.popleft()
                self._ops.extendleft(reversed(powershell_ops(script)))
                continue
            self._ops.popleft()

    def _finish(self, code: int | None) -> None:
        self._finished = True
        self._exit_code = code


def cmd_ops(script: str) -> list[tuple]:
    ops: list[tuple] = []
    for statement in script.split("&&"):
        words = statement.lstrip()
        verb, _, rest = words.partition(" ")
        verb = verb.lower()
        if verb == "echo":
            if ">&2" in rest:     # cmd drops the redirection and keeps the rest, spaces too
                ops.append(("write", "stderr", rest.replace(">&2", "", 1) + "\r\n"))
            else:
                ops.append(("write", "stdout", rest + "\r\n"))
        elif verb == "set" and not rest.strip():
            ops.append(("set",))
        elif verb == "exit":
            ops.append(("exit", int(rest.strip() or 0)))
        elif words.strip().lower() == "type con":
            ops.append(("echo_stdin",))
        elif verb == "sim-gate":
            ops.append(("gate", rest.strip()))
        elif verb == "sim-big":
            total = int(rest.strip())
            pattern = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 2000)
            for start in range(0, total, 65536):
                size = min(65536, total - start)
                ops.append(("raw", "stdout", (pattern * (size // len(pattern) + 1))[:size]))
        else:
            ops.append(("write", "stderr", f"'{verb}' is not recognized as an internal or external "
                                          "command,\r\noperable program or batch file.\r\n"))
            ops.append(("exit", 1))
            break
    return ops


def powershell_ops(script: str) -> list[tuple]:
    ops: list[tuple] = []
    for statement in script.split(";"):
        verb, _, rest = statement.strip().partition(" ")
        text = rest.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if verb.lower() == "write-host":
            # PowerShell writes the text and the newline as two separate writes.
            ops += [("write", "stdout", text), ("write", "stdout", "\n")]
        elif verb.lower() == "start-sleep":
            ops.append(("gate", "Start-Sleep"))
        elif verb.lower() == "exit":
            ops.append(("exit", int(text or 0)))
    return ops


class ScriptedRunner:
    """A ProcessRunner for tests. Records every start."""

    def __init__(self) -> None:
        self.started: list[StartRecord] = []
        self.processes: list[ScriptedProcess] = []
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def start(self, command_line: str, env: Mapping[str, str], codepage: int) -> ScriptedProcess:
        self.started.append(StartRecord(command_line, dict(env), codepage))
        program, _, rest = command_line.partition(" ")
        program = program.lower()
        if program in ("cmd", "cmd.exe") and rest.lower().startswith("/c "):
            ops = cmd_ops(rest[3:])
        elif program in ("powershell", "powershell.exe"):
            ops = [("powershell_stdin",)] if rest.strip() == "-" else powershell_ops(rest)
        else:
            ops = cmd_ops(command_line)
        # A process sees the machine's environment with the shell's variables on top.
        process = ScriptedProcess(ops, {**SYSTEM_ENVIRONMENT, **env}, codepage, self.gate)
        self.processes.append(process)
        return process


# -- hand-written requests ------------------------------------------------------------------

def soap(action: str, body: str = "", *, shell_id: str | None = None,
         max_envelope: int = 153600, timeout: str = "PT20S") -> bytes:
    """A WS-Man request as pywinrm writes them, for what pywinrm cannot be made to send."""
    selector = (f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
                if shell_id else "")
    return (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><env:Header>'
        f"<a:Action>{action}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<w:MaxEnvelopeSize>{max_envelope}</w:MaxEnvelopeSize>"
        f"<w:OperationTimeout>{timeout}</w:OperationTimeout>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f"{selector}</env:Header><env:Body>{body}</env:Body></env:Envelope>"
    ).encode("utf-8")


SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"


# -- fixtures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@pytest.fixture
def runner() -> ScriptedRunner:
    return ScriptedRunner()


@pytest.fixture
def creds() -> Credentials:
    return Credentials("hvadmin", secrets.token_urlsafe(18))


@pytest.fixture
def make_endpoint(runner: ScriptedRunner, creds: Credentials) -> Iterator[Callable[..., WsmanEndpoint]]:
    made: list[WsmanEndpoint] = []

    def make(**kwargs: object) -> WsmanEndpoint:
        kwargs.setdefault("username", creds.username)
        kwargs.setdefault("password", creds.password)
        kwargs.setdefault("name", f"test{len(made)}")
        endpoint = WsmanEndpoint(kwargs.pop("runner", runner), **kwargs)  # type: ignore[arg-type]
        made.append(endpoint)
        endpoint.start()
        return endpoint

    yield make
    for endpoint in made:
        endpoint.stop()


@pytest.fixture
def endpoint(make_endpoint: Callable[..., WsmanEndpoint]) -> WsmanEndpoint:
    return make_endpoint()


@pytest.fixture
def make_protocol(creds: Credentials) -> Iterator[Callable[..., winrm.Protocol]]:
    made: list[winrm.Protocol] = []

    def make(endpoint: WsmanEndpoint, **kwargs: object) -> winrm.Protocol:
        kwargs.setdefault("transport", "plaintext")
        # Never an environment proxy or CA bundle: pywinrm warns about both when inherited.
        kwargs.setdefault("proxy", None)
        kwargs.setdefault("ca_trust_path", None)
        kwargs.setdefault("username", creds.username)
        kwargs.setdefault("password", creds.password)
        protocol = winrm.Protocol(endpoint.url, **kwargs)  # type: ignore[arg-type]
        made.append(protocol)
        return protocol

    yield make
    for protocol in made:
        protocol.transport.close_session()


@pytest.fixture
def protocol(endpoint: WsmanEndpoint, make_protocol: Callable[..., winrm.Protocol]) -> winrm.Protocol:
    return make_protocol(endpoint)


@pytest.fixture
def raw_session(creds: Credentials) -> Iterator[requests.Session]:
    """A requests session with Basic credentials, for hand-written WS-Man requests."""
    with requests.Session() as session:
        session.auth = (creds.username, creds.password)
        session.headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
        session.trust_env = False
        yield session
