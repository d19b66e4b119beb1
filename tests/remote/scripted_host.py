"""A tiny ProcessRunner for the simulated WS-Man endpoint: it plays a host whose
powershell.exe prints whatever the test wants (a good answer, garbage, 10 MB, nothing at
all), after checking that the command is the project's loader and that the shell carries
the script body, as a real host's loader would."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from hvconsole.remote import loader
from hvconsole.sim.wsman.runner import ProcessOutput

NOT_LOADED = b'{"hvc_error":{"message":"script HVC_SCRIPT_COLLECT is not loaded in this shell"}}'


@dataclass
class Answer:
    """What one run prints: stdout in ``chunks`` (one per read), then ``exit_code``.
    ``never_ends`` keeps the process running (a wedged host) until terminated."""

    chunks: list[bytes] = field(default_factory=list)
    stderr: bytes = b""
    exit_code: int = 0
    never_ends: bool = False


class ScriptedProcess:
    def __init__(self, answer: Answer):
        self._chunks = list(answer.chunks)
        self._stderr = answer.stderr
        self._answer = answer
        self._stopped = threading.Event()
        self.stdin = b""
        self.stdin_closed = False

    def write_stdin(self, data: bytes, end: bool) -> None:
        self.stdin += data
        self.stdin_closed = self.stdin_closed or end

    def read(self, timeout_s: float) -> ProcessOutput:
        if self._chunks or self._stderr:
            out = self._chunks.pop(0) if self._chunks else b""
            err, self._stderr = self._stderr, b""
            done = not self._chunks and not self._answer.never_ends
            return ProcessOutput(out, err, done, self._answer.exit_code if done else None)
        if self._answer.never_ends and not self._stopped.is_set():
            self._stopped.wait(timeout_s)
            return ProcessOutput(b"", b"", False, None)
        return ProcessOutput(b"", b"", True, self._answer.exit_code)

    def terminate(self) -> None:
        self._stopped.set()


class ScriptedRunner:
    """Answers each collect call with ``next_answer(params)``; records what it saw."""

    def __init__(self, next_answer: Callable[[dict], Answer]):
        self._next_answer = next_answer
        self.calls: list[dict] = []
        self.command_lines: list[str] = []
        self.codepages: list[int] = []
        self._lock = threading.Lock()

    def start(self, command_line: str, env: Mapping[str, str], codepage: int) -> ScriptedProcess:
        with self._lock:
            self.command_lines.append(command_line)
            self.codepages.append(codepage)
        m = re.fullmatch(r"powershell\.exe .* -EncodedCommand ([A-Za-z0-9+/=]+)", command_line)
        if not m:
            return ScriptedProcess(Answer([b"'" + command_line[:20].encode() + b"' is not recognized"], exit_code=1))
        text = base64.b64decode(m.group(1)).decode("utf-16-le")
        var = re.search(r"\$env:(HVC_SCRIPT_[A-Z0-9_]+)", text).group(1)
        if env.get(var) != loader.shell_environment()[var]:
            return ScriptedProcess(Answer([NOT_LOADED], exit_code=loader.EXIT_SCRIPT_NOT_LOADED))
        inline = re.search(r"-HvcParams '([A-Za-z0-9+/=]*)'", text)
        params = json.loads(base64.b64decode(inline.group(1))) if inline else {"stdin": True}
        with self._lock:
            self.calls.append(params)
        return ScriptedProcess(self._next_answer(params))


def good_answer(doc: dict, *, pieces: int = 1) -> Answer:
    data = json.dumps(doc).encode("utf-8")
    size = -(-len(data) // pieces)
    return Answer([data[i:i + size] for i in range(0, len(data), size)])


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` until true or the (generous) timeout passes."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
