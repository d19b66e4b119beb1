"""The simulated host's ``powershell.exe``: what a WinRM command on a Hyper-V host answers.

The WS-Man endpoint (``sim/wsman``) knows nothing of Hyper-V: it hands each command line
and the shell's environment to a :class:`HostAgent` (its ``ProcessRunner``). The agent
reads the command line the way ``powershell.exe`` would, checks that the decoded text is
exactly the project's loader (``remote/loader.py``; matched here by its own strict
pattern, not by importing the client), takes the script body from the shell environment
and recognises the project's own scripts **by exact body**, compared at run time with the
shipped ``.ps1`` files. Recognised scripts run through a small registry of simulated
handlers; anything else fails the way a host we cannot really run PowerShell on should:
an explanation on stderr and exit 1.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..wsman.runner import ProcessOutput
from ..wsman.xmltext import escape as xml_escape

if TYPE_CHECKING:
    from datetime import datetime

    from ..model.host import SimHost
    from ..model.site import SimSite

log = logging.getLogger(__name__)

# Modules that register simulated script handlers when imported (a test may add one that
# does not exist: it is skipped; a module that exists but fails to import is an error).
HANDLER_MODULES = ("hvconsole.sim.agent.collect", "hvconsole.sim.agent.probe",
                   "hvconsole.sim.agent.patch", "hvconsole.sim.agent.doctor",
                   "hvconsole.sim.agent.audit", "hvconsole.sim.agent.recovery")
EXIT_SCRIPT_NOT_LOADED = 86
EXIT_TERMINATED = 0xC000013A        # STATUS_CONTROL_C_EXIT: what a killed console process returns
POWERSHELL_START_S = 0.25           # powershell.exe itself takes a moment before the script runs
# The collect loop's own limits (docs/winrm.md, "The collect loop"): it exits after this
# long without a request line, after this many answers, or once it has run this long
# (simulated seconds; it answers the line that reaches a limit first).
LOOP_SCRIPTS = ("collect",)
LOOP_IDLE_EXIT_S = 120.0
LOOP_MAX_ANSWERS = 720
LOOP_MAX_AGE_S = 3600.0
EXIT_BAD_LINE = 2
BAD_LINE_ANSWER = b'0 {"hvc_error":{"message":"bad request line"}}\n'


@dataclass(frozen=True, slots=True)
class ScriptAnswer:
    """What a simulated script printed, its exit code, and how long it ran (seconds)."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    duration_s: float
    # The poll gave up on a query whose thread may never return (collect.ps1's $abandoned):
    # a collect loop answers it and then ends (docs/collection-script.md "Loop mode").
    abandoned: bool = False


class ScriptFailure(Exception):
    """A script-level failure: printed as ``{"hvc_error": ...}`` with exit 1 (architecture §5)."""

    def __init__(self, message: str, where: str = "script"):
        super().__init__(message)
        self.message = message
        self.where = where


Handler = Callable[["SimHost", Mapping[str, Any], "datetime"], ScriptAnswer]
_HANDLERS: dict[str, Handler] = {}
_handlers_lock = threading.Lock()
_handlers_loaded = False


def register_script_handler(name: str, fn: Handler) -> None:
    """Answer the shipped script ``scripts/<name>.ps1`` with ``fn(host, params, now)``."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"bad script name {name!r}")
    _HANDLERS[name] = fn


def load_command_modules() -> None:
    """Import what a first command needs beyond the endpoint (the script handlers, the
    reading of the shipped scripts and of a gzipped loader). A demo site's process calls
    it after its first line, so that neither that line nor the first command waits for
    these imports; anything else imports them at its first command."""
    import gzip  # noqa: F401
    from importlib import resources  # noqa: F401
    load_handler_modules()


def load_handler_modules() -> dict[str, Handler]:
    global _handlers_loaded
    with _handlers_lock:
        if not _handlers_loaded:
            for module in HANDLER_MODULES:
                try:
                    importlib.import_module(module)
                except ModuleNotFoundError as exc:
                    if exc.name != module:
                        raise       # the module exists but is broken: that must be seen
            _handlers_loaded = True
    return dict(_HANDLERS)


# -- reading the command line ----------------------------------------------------------

# The loader's known shape, written from docs/architecture.md §"Running a shipped script".
_LOADER = re.compile(
    r"\$ErrorActionPreference='Stop';\$ProgressPreference='SilentlyContinue';"
    r"try\{\[Console\]::OutputEncoding=New-Object System\.Text\.UTF8Encoding \$false\}catch\{\};"
    r"\$b=\$env:(?P<var>HVC_SCRIPT_[A-Z0-9_]+);"
    r"if\(-not \$b\)\{\[Console\]::Out\.Write\('\{\"hvc_error\":\{\"message\":\"script (?P=var) "
    r"is not loaded in this shell\"\}\}'\);exit 86\};"
    r"\$m=New-Object System\.IO\.MemoryStream\(,\[System\.Convert\]::FromBase64String\(\$b\)\);"
    r"\$z=New-Object System\.IO\.Compression\.GZipStream\(\$m,"
    r"\[System\.IO\.Compression\.CompressionMode\]::Decompress\);"
    r"\$s=\(New-Object System\.IO\.StreamReader\(\$z,\[System\.Text\.Encoding\]::UTF8\)\)\.ReadToEnd\(\);"
    r"& \(\[scriptblock\]::Create\(\$s\)\) "
    r"(?:-HvcParams (?:'(?P<inline>[A-Za-z0-9+/=]*)'|(?P<stdin>\(\[Console\]::In\.ReadToEnd\(\)\)))"
    r"|(?P<loop>-HvcLoop));"
    r"exit \$LASTEXITCODE")
_FLAGS = ("nologo", "noexit", "sta", "mta", "noprofile", "noninteractive")
_VALUED = ("version", "psconsolefile", "inputformat", "outputformat", "windowstyle",
           "configurationname", "executionpolicy", "encodedcommand")
_SCRIPT_HEADER = re.compile(r"# hvconsole-script: ([a-z][a-z0-9_]*)\r?\n")


class Rejected(Exception):
    """The command cannot run here: ``stderr`` text (CLIXML when PowerShell said it)."""

    def __init__(self, text: str, *, powershell: bool = True, exit_code: int = 1):
        super().__init__(text)
        self.text, self.powershell, self.exit_code = text, powershell, exit_code


@dataclass(frozen=True, slots=True)
class LoaderCall:
    env_var: str
    inline_params: str | None      # None: the parameters come on stdin (or, with loop, request lines)
    loop: bool = False             # the loop form: -HvcLoop, one request line after another


def _parameter(token: str) -> str | None:
    """A powershell.exe parameter name from ``-Name``/``/Name``, prefixes allowed."""
    if not token.startswith(("-", "/")) or len(token) < 2:
        return None
    word = token[1:].lower()
    if word in _FLAGS + _VALUED + ("command", "file"):
        return word
    if word in ("e", "ec", "enc") or ("encodedcommand".startswith(word) and len(word) >= 2 and word != "ex"):
        return "encodedcommand"
    matches = [p for p in _FLAGS + _VALUED + ("command", "file") if p.startswith(word)]
    return matches[0] if len(matches) == 1 else ("?" + word)


def interpret(command_line: str) -> LoaderCall | str:
    """The loader call in ``command_line``; a plain string for ``hostname``; else Rejected."""
    tokens = split_command_line(command_line)
    if not tokens:
        raise Rejected("The syntax of the command is incorrect.", powershell=False)
    exe = tokens[0].replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if exe in ("cmd", "cmd.exe") and len(tokens) > 2 and tokens[1].lower() == "/c":
        rest = command_line.split(tokens[1], 1)[1].strip()
        return interpret(rest)
    if exe in ("hostname", "hostname.exe") and len(tokens) == 1:
        return "hostname"
    if exe not in ("powershell", "powershell.exe"):
        raise Rejected(f"'{tokens[0]}' is not recognized as an internal or external command,\r\n"
                       "operable program or batch file.", powershell=False)
    encoded = None
    i = 1
    while i < len(tokens):
        name = _parameter(tokens[i])
        if name is None or name in ("command", "file"):
            raise Rejected("This simulated Hyper-V host cannot run arbitrary PowerShell: it answers "
                           "only hvconsole's own scripts sent through the hvconsole loader "
                           "(-EncodedCommand).")
        if name.startswith("?"):
            raise Rejected(f"-{name[1:]} : The term '-{name[1:]}' is not a recognized parameter of "
                           "powershell.exe.")
        if name in _VALUED:
            if i + 1 >= len(tokens):
                raise Rejected(f"Missing argument for parameter {name}.")
            if name == "encodedcommand":
                encoded = tokens[i + 1]
            i += 2
        else:
            i += 1
    if encoded is None:
        raise Rejected("This simulated Hyper-V host does not run interactive PowerShell sessions.")
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Rejected("Cannot process the command because the value specified with -EncodedCommand "
                       "is not properly encoded. The value must be Base64 encoded.") from None
    match = _LOADER.fullmatch(text)
    if match is None:
        raise Rejected("This simulated Hyper-V host cannot run arbitrary PowerShell: the encoded "
                       "command is not the hvconsole script loader.")
    return LoaderCall(match["var"], match["inline"], loop=match["loop"] is not None)


def _shipped_body(name: str) -> str | None:
    """Read at every call: a teammate may have changed the script since we started."""
    from importlib import resources  # imported late, as gzip: see load_command_modules
    try:
        return (resources.files("hvconsole.remote.scripts") / f"{name}.ps1").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def identify_script(body: str) -> str | None:
    """The name of the shipped script whose text is exactly ``body``, else None."""
    header = _SCRIPT_HEADER.match(body)
    if header is None:
        return None
    return header[1] if _shipped_body(header[1]) == body else None


def _decode_params(encoded: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        params = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ScriptFailure(f"HvcParams is not base64 of UTF-8 JSON ({exc.__class__.__name__})", "params") from None
    if not isinstance(params, dict):
        raise ScriptFailure("HvcParams must be a JSON object", "params")
    return params


def _hvc_error(failure: ScriptFailure) -> ScriptAnswer:
    doc = json.dumps({"hvc_error": {"message": failure.message, "where": failure.where}}, ensure_ascii=False)
    return ScriptAnswer(doc.encode("utf-8") + b"\r\n", b"", 1, 0.05)


# -- the agent -------------------------------------------------------------------------

class HostAgent:
    """``ProcessRunner`` for one simulated host. ``latency_scale`` multiplies every real
    wait (0 = answer at once, for fast tests and recording)."""

    def __init__(self, host: SimHost, site: SimSite, *, latency_scale: float = 1.0):
        self.host = host
        self.site = site
        self.latency_scale = latency_scale
        self._handlers: dict[str, Handler] | None = None
        # False: the host's collect script has no loop (an older collect.ps1), so the
        # loop form of the loader fails at once (docs/winrm.md, "The collect loop").
        self.serves_loop = True

    @property
    def handlers(self) -> dict[str, Handler]:
        """The script handlers, their modules imported at the first command (or earlier by
        :func:`load_handler_modules`): a site serves, and a demo site's process writes its
        first line, without waiting for the ~5 ms of importing every script's handler."""
        if self._handlers is None:
            self._handlers = load_handler_modules()
        return self._handlers

    def start(self, command_line: str, env: Mapping[str, str], codepage: int) -> SimulatedProcess | LoopProcess:
        with self.site.acting():
            answering = self.host.reachability() == "up"
        if not answering:
            # A command that reached a host as it went away never finishes; the endpoint
            # (hang/refuse) normally stops us from getting here at all.
            return SimulatedProcess(None, wants_stdin=False, latency_scale=self.latency_scale)
        try:
            call = interpret(command_line)
        except Rejected as rejected:
            answer = self._rejected(rejected, codepage)
            return SimulatedProcess(lambda _stdin: answer, wants_stdin=False, latency_scale=self.latency_scale)
        if isinstance(call, LoaderCall) and call.loop:
            return self._start_loop(call, env, codepage)
        wants_stdin = isinstance(call, LoaderCall) and call.inline_params is None
        return SimulatedProcess(lambda stdin: self._run(call, env, stdin, codepage),
                                wants_stdin=wants_stdin, latency_scale=self.latency_scale)

    def execute(self, command_line: str, env: Mapping[str, str], stdin: bytes | None = None,
                codepage: int = 65001) -> ScriptAnswer:
        """Run a command to completion without waiting: what its process would print."""
        try:
            call = interpret(command_line)
        except Rejected as rejected:
            return self._rejected(rejected, codepage)
        return self._run(call, env, stdin, codepage)

    def _start_loop(self, call: LoaderCall, env: Mapping[str, str], codepage: int) -> SimulatedProcess | LoopProcess:
        """The loop form of the loader (``-HvcLoop``): a process that answers request
        lines as they arrive on stdin. A script that has no loop, or an agent that serves
        none (``serves_loop``), fails the way powershell.exe does for a parameter the
        script does not declare."""
        found = self._script_handler(call, env, codepage)
        if isinstance(found, ScriptAnswer):
            answer = found
        elif not self.serves_loop or found[0] not in LOOP_SCRIPTS:
            answer = ScriptAnswer(b"", _encode_stderr(clixml_error(
                "A parameter cannot be found that matches parameter name 'HvcLoop'."), codepage), 1, 0.05)
        else:
            name, handler = found
            return LoopProcess(lambda encoded: self._answer(name, handler, encoded, codepage),
                               clock=self.site.clock.elapsed,
                               start_delay_s=POWERSHELL_START_S * self.host.slow_factor,
                               latency_scale=self.latency_scale)
        started = ScriptAnswer(answer.stdout, answer.stderr, answer.exit_code,
                               answer.duration_s + POWERSHELL_START_S * self.host.slow_factor)
        return SimulatedProcess(lambda _stdin: started, wants_stdin=False, latency_scale=self.latency_scale)

    def _rejected(self, rejected: Rejected, codepage: int) -> ScriptAnswer:
        if rejected.powershell:
            return ScriptAnswer(b"", _encode_stderr(clixml_error(rejected.text), codepage),
                                rejected.exit_code, POWERSHELL_START_S)
        return ScriptAnswer(b"", _encode_stderr(rejected.text + "\r\n", codepage), rejected.exit_code, 0.02)

    def _run(self, call: LoaderCall | str, env: Mapping[str, str], stdin: bytes | None,
             codepage: int) -> ScriptAnswer:
        if call == "hostname":
            return ScriptAnswer(self.host.name.encode("ascii", "replace") + b"\r\n", b"", 0, 0.03)
        assert isinstance(call, LoaderCall)
        if call.loop:   # only a started process (start) serves a loop, line by line
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                "The simulated host runs the loop form of the loader only as a started command."), codepage),
                1, 0.05)
        answer = self._run_loader(call, env, stdin, codepage)
        stderr = answer.stderr
        if self.host.clixml_progress:
            stderr = _encode_stderr(PROGRESS_NOISE, codepage) + stderr.removeprefix(_BOM)
        return ScriptAnswer(answer.stdout, stderr, answer.exit_code,
                            answer.duration_s + POWERSHELL_START_S * self.host.slow_factor)

    def _run_loader(self, call: LoaderCall, env: Mapping[str, str], stdin: bytes | None,
                    codepage: int) -> ScriptAnswer:
        found = self._script_handler(call, env, codepage)
        if isinstance(found, ScriptAnswer):
            return found
        name, handler = found
        encoded = call.inline_params
        if encoded is None:
            encoded = (stdin or b"").decode("utf-8", errors="replace")
        if not encoded.strip():
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                "Cannot bind argument to parameter 'HvcParams' because it is an empty string."), codepage), 1, 0.05)
        return self._answer(name, handler, encoded, codepage)

    def _answer(self, name: str, handler: Handler, encoded: str, codepage: int) -> ScriptAnswer:
        """One run of a handler for base64 parameters: its answer, or the hvc_error
        document of a script-level failure."""
        try:
            params = _decode_params(encoded)
            with self.site.acting():
                return handler(self.host, params, self.site.time_of(self.site.t))
        except ScriptFailure as failure:
            return _hvc_error(failure)
        except Exception as exc:  # a bug in a simulated handler must not kill the endpoint
            log.exception("simulated script %s failed on %s", name, self.host.name)
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                f"internal error in the simulated host: {exc.__class__.__name__}: {exc}"), codepage), 1, 0.05)

    def _script_handler(self, call: LoaderCall, env: Mapping[str, str],
                        codepage: int) -> tuple[str, Handler] | ScriptAnswer:
        """The shipped script in the shell's environment and its handler, or what
        powershell.exe answers when there is none."""
        # Windows environment variable names are case-insensitive.
        b = next((v for k, v in env.items() if k.upper() == call.env_var.upper()), "")
        if not b:
            message = json.dumps({"hvc_error": {"message": f"script {call.env_var} is not loaded in this shell"}},
                                 separators=(",", ":"))
            return ScriptAnswer(message.encode("utf-8"), b"", EXIT_SCRIPT_NOT_LOADED, 0.02)
        import gzip  # imported late: see load_command_modules
        try:
            body = gzip.decompress(base64.b64decode("".join(b.split()), validate=True)).decode(
                "utf-8", errors="replace")
        except (binascii.Error, ValueError, EOFError, OSError):
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid '
                'Base-64 string as it contains a non-base 64 character, more than two padding characters, '
                'or an illegal character among the padding characters."'), codepage), 1, 0.02)
        name = identify_script(body)
        if name is None:
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                f"This simulated Hyper-V host cannot run arbitrary PowerShell: the script in {call.env_var} "
                "is not one of the scripts shipped with this hvconsole."), codepage), 1, 0.05)
        try:
            handlers = self.handlers
        except Exception as exc:
            # A handler module that exists but fails to import, first seen here since the
            # modules are imported at the first command: that command's error (the next one
            # tries again), not an exception out of the endpoint's Command or Send.
            log.exception("the simulated script handlers failed to load on %s", self.host.name)
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                f"The simulated host cannot load its script handlers: {type(exc).__name__}: {exc}"),
                codepage), 1, 0.05)
        handler = handlers.get(name)
        if handler is None:
            return ScriptAnswer(b"", _encode_stderr(clixml_error(
                f"The simulated host has no answer for hvconsole script '{name}' yet."), codepage), 1, 0.05)
        return name, handler


# -- PowerShell's own text forms -------------------------------------------------------

_CLIXML_NS = "http://schemas.microsoft.com/powershell/2004/04"
# What powershell.exe writes to stderr on a redirected console even when the script set
# $ProgressPreference: the module-loading progress record (winrm-notes "Output").
PROGRESS_NOISE = (
    f'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="{_CLIXML_NS}"><Obj S="progress" RefId="0">'
    '<TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>'
    '<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI>'
    '<Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>')
_BOM = "\ufeff".encode("utf-8")


def clixml_error(text: str) -> str:
    """An error as powershell.exe serialises its error stream for a non-console caller."""
    lines = "".join(f'<S S="Error">{_clixml_text(line)}_x000D__x000A_</S>' for line in text.split("\n"))
    return f'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="{_CLIXML_NS}">{lines}</Objs>'


def _clixml_text(line: str) -> str:
    return xml_escape(line.rstrip("\r")).replace("_x", "_x005F_x")


def split_command_line(text: str) -> list[str]:
    """Arguments the way Windows splits them: spaces separate, double quotes group."""
    args: list[str] = []
    current: list[str] = []
    quoted = started = False
    for ch in text:
        if ch == '"':
            quoted, started = not quoted, True
        elif ch in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


def _encode_stderr(text: str, codepage: int) -> bytes:
    if codepage == 65001:
        return _BOM + text.encode("utf-8")   # the BOM winrm-notes warns about
    try:
        return text.encode(f"cp{codepage}", errors="replace")
    except LookupError:
        return text.encode("cp437", errors="replace")


class SimulatedProcess:
    """One running command: output appears all at once when the simulated run time is up."""

    def __init__(self, run: Callable[[bytes | None], ScriptAnswer] | None, *, wants_stdin: bool,
                 latency_scale: float):
        self._run = run
        self._wants_stdin = wants_stdin
        self._scale = latency_scale
        self._cond = threading.Condition()
        self._answer: ScriptAnswer | None = None
        self._ready_at = 0.0
        self._stdin = bytearray()
        self._stdin_closed = False
        self._delivered: int | None = None     # exit code once the end was reported
        self._terminated = False
        if run is not None and not wants_stdin:
            self._launch(None)

    def _launch(self, stdin: bytes | None) -> None:
        assert self._run is not None
        answer = self._run(stdin)           # outside the condition: it takes the site lock
        with self._cond:
            self._answer = answer
            self._ready_at = time.monotonic() + answer.duration_s * self._scale
            self._cond.notify_all()

    def write_stdin(self, data: bytes, end: bool) -> None:
        with self._cond:
            if self._stdin_closed or self._terminated:
                return
            self._stdin += data
            self._stdin_closed = end
            launch = end and self._wants_stdin and self._run is not None
        if launch:
            self._launch(bytes(self._stdin))

    def read(self, timeout_s: float) -> ProcessOutput:
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while True:
                if self._delivered is not None:
                    return ProcessOutput(b"", b"", True, self._delivered)
                now = time.monotonic()
                if self._answer is not None and now >= self._ready_at:
                    self._delivered = self._answer.exit_code
                    return ProcessOutput(self._answer.stdout, self._answer.stderr, True, self._answer.exit_code)
                if self._terminated:
                    self._delivered = EXIT_TERMINATED
                    return ProcessOutput(b"", b"", True, EXIT_TERMINATED)
                if now >= deadline:
                    return ProcessOutput(b"", b"", False, None)
                wake = deadline if self._answer is None else min(deadline, self._ready_at)
                self._cond.wait(wake - now)

    def terminate(self) -> None:
        with self._cond:
            self._terminated = True
            self._cond.notify_all()


# A request line without its "\n": a decimal seq, one space, base64 parameters; a
# trailing "\r" is ignored.
_REQUEST_LINE = re.compile(rb"([0-9]{1,10}) ([A-Za-z0-9+/=]+)\r?")
_SEQ_MAX = 2**31 - 1


class LoopProcess:
    """A running collect loop: reads request lines from stdin as Send delivers them and
    answers each with one line, ``<seq> <answer>``, where the answer is the handler's
    stdout for those parameters (opaque text, on one line). It starts after
    powershell.exe's start delay (once), answers one line after another, and ends
    (exit 0) at the end of its input, after ``LOOP_IDLE_EXIT_S`` without a line, after
    its ``LOOP_MAX_ANSWERS``th answer, once ``LOOP_MAX_AGE_S`` have passed, or after
    answering a poll that abandoned a query (``ScriptAnswer.abandoned``); a line
    that is not a request is answered ``BAD_LINE_ANSWER`` and ends it with exit 2.
    ``clock``: simulated seconds (idle and age); ``latency_scale`` scales real waits."""

    def __init__(self, answer: Callable[[str], ScriptAnswer], *, clock: Callable[[], float],
                 start_delay_s: float, latency_scale: float):
        self._answer = answer
        self._clock = clock
        self._scale = latency_scale
        self._cond = threading.Condition()
        self._started = self._last_line = clock()
        self._stdin = bytearray()
        # Answer lines not yet read: (when they are written, in time.monotonic(), stdout, stderr).
        self._output: deque[tuple[float, bytes, bytes]] = deque()
        self._free_at = time.monotonic() + start_delay_s * latency_scale   # when the next answer may start
        self._answers = 0
        self._exit_code: int | None = None      # the loop ended; reported once its output is read
        self._delivered = False
        self._terminated = False
        self._writing = threading.Lock()        # one Send's lines at a time, in order

    @property
    def answers(self) -> int:
        return self._answers

    def write_stdin(self, data: bytes, end: bool) -> None:
        with self._writing:
            with self._cond:
                self._check_idle()
                if self._exit_code is not None or self._terminated:
                    return      # the process has ended: the pipe takes nothing more
                self._stdin += data
                lines = []
                while (cut := self._stdin.find(b"\n")) >= 0:
                    lines.append(bytes(self._stdin[:cut]))
                    del self._stdin[:cut + 1]
                if lines:
                    self._last_line = self._clock()
            for line in lines:
                if not self._serve(line):
                    return
            if end:
                with self._cond:
                    if self._exit_code is None:
                        self._exit_code = 0
                    self._cond.notify_all()

    def _serve(self, line: bytes) -> bool:
        """Answer one request line; False once the loop has ended."""
        match = _REQUEST_LINE.fullmatch(line)
        seq = int(match[1]) if match is not None else 0
        if match is None or not 1 <= seq <= _SEQ_MAX:
            self._emit(BAD_LINE_ANSWER, b"", 0.0, EXIT_BAD_LINE)
            return False
        answer = self._answer(match[2].decode("ascii"))
        with self._cond:
            self._answers += 1
            spent = self._answers >= LOOP_MAX_ANSWERS or self._clock() - self._started >= LOOP_MAX_AGE_S \
                or answer.abandoned
        # One line: the answer as the one-shot call writes it, without its line end.
        text = b"%d %s\n" % (seq, answer.stdout.strip())
        self._emit(text, answer.stderr, answer.duration_s, 0 if spent else None)
        return not spent

    def _emit(self, stdout: bytes, stderr: bytes, duration_s: float, exit_code: int | None) -> None:
        with self._cond:
            if self._terminated:
                return
            at = max(time.monotonic(), self._free_at) + duration_s * self._scale
            self._free_at = at
            self._output.append((at, stdout, stderr))
            if exit_code is not None:
                self._exit_code = exit_code
            self._cond.notify_all()

    def _check_idle(self) -> None:
        """Its own idle timer: no request line for LOOP_IDLE_EXIT_S (called with the lock)."""
        if self._exit_code is None and not self._output and not self._terminated \
                and self._clock() - self._last_line >= LOOP_IDLE_EXIT_S:
            self._exit_code = 0

    def read(self, timeout_s: float) -> ProcessOutput:
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while True:
                if self._delivered:
                    return ProcessOutput(b"", b"", True, self._exit_code)
                if self._terminated:
                    self._delivered = True
                    self._exit_code = EXIT_TERMINATED
                    return ProcessOutput(b"", b"", True, EXIT_TERMINATED)
                now = time.monotonic()
                out: list[bytes] = []
                err: list[bytes] = []
                while self._output and self._output[0][0] <= now:
                    _, o, e = self._output.popleft()
                    out.append(o)
                    err.append(e)
                self._check_idle()
                done = self._exit_code is not None and not self._output
                if out or done:
                    self._delivered = done
                    return ProcessOutput(b"".join(out), b"".join(err), done, self._exit_code if done else None)
                if now >= deadline:
                    return ProcessOutput(b"", b"", False, None)
                wake = deadline if not self._output else min(deadline, self._output[0][0])
                self._cond.wait(wake - now)

    def terminate(self) -> None:
        with self._cond:
            self._terminated = True
            self._output.clear()
            self._cond.notify_all()
