"""How a shipped script and its parameters reach ``powershell.exe`` on the host.

The script bodies travel once per shell, as environment variables set when the shell is
created, gzip-compressed and base64-encoded (one Windows environment variable holds at most
32,767 characters; compressed, the largest script uses about a third of that); each call
sends only a small fixed loader on the command line. Parameters are base64 of a UTF-8 JSON object, checked
against the base64 alphabet before they are placed in the loader, so they are provably
inert text: no quote, no semicolon, no ``$`` can get through. See docs/architecture.md.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

ENV_PREFIX = "HVC_SCRIPT_"
# Encoded parameters longer than this go through stdin instead of the command line.
INLINE_PARAMS_MAX = 2000
# The command line is checked against cmd.exe's limit (8,191 characters, Microsoft's "Command
# prompt line string limitation"), not WinRM's: WinRM itself has no such cap and
# CreateProcess takes 32,767. The client skips cmd.exe (WINRS_SKIP_CMD_SHELL), so this cap is
# conservative on purpose: the loader needs about 1 kB, and a host that does run the
# command through cmd.exe (an older or differently configured WinRS) still works.
COMMAND_LINE_MAX = 8191
POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = "-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_B64 = re.compile(r"^[A-Za-z0-9+/=]*$")
# A loop's request numbers: the client counts up from 1 per loop, at most 2^31-1.
SEQ_MAX = 2**31 - 1

# The loader. {var} is ENV_PREFIX + NAME ([A-Z0-9_]); {params} is either a single-quoted
# base64 literal or the stdin expression. Nothing else is ever substituted.
_LOADER = (
    "$ErrorActionPreference='Stop';$ProgressPreference='SilentlyContinue';"
    "try{{[Console]::OutputEncoding=New-Object System.Text.UTF8Encoding $false}}catch{{}};"
    "$b=$env:{var};"
    "if(-not $b){{[Console]::Out.Write("
    "'{{\"hvc_error\":{{\"message\":\"script {var} is not loaded in this shell\"}}}}');exit 86}};"
    "$m=New-Object System.IO.MemoryStream(,[System.Convert]::FromBase64String($b));"
    "$z=New-Object System.IO.Compression.GZipStream($m,[System.IO.Compression.CompressionMode]::Decompress);"
    "$s=(New-Object System.IO.StreamReader($z,[System.Text.Encoding]::UTF8)).ReadToEnd();"
    "& ([scriptblock]::Create($s)) -HvcParams {params};"
    "exit $LASTEXITCODE"
)
# The loop form (docs/winrm.md, "The collect loop"): the same text with the script block
# invoked with -HvcLoop instead of -HvcParams; the requests then come as lines on stdin.
# {var} is the only substitution.
_LOOP_LOADER = _LOADER.replace(" -HvcParams {params};", " -HvcLoop;")
STDIN_PARAMS = "([Console]::In.ReadToEnd())"
# Exit code of the loader when the shell lacks the script (recreate the shell and retry).
EXIT_SCRIPT_NOT_LOADED = 86


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """What the client sends for one script call."""

    command: str            # the executable
    arguments: str          # the rest of the command line
    stdin: bytes | None     # parameters when too long for the command line, else None

    @property
    def command_line_length(self) -> int:
        return len(self.command) + 1 + len(self.arguments)


def env_var_name(script: str) -> str:
    if not _NAME.match(script):
        raise ValueError(f"bad script name {script!r}")
    return ENV_PREFIX + script.upper()


def script_body(script: str) -> str:
    """The text of ``scripts/<script>.ps1`` shipped in the package."""
    env_var_name(script)  # validates the name before it touches a path
    return (resources.files("hvconsole.remote.scripts") / f"{script}.ps1").read_text(encoding="utf-8")


def shipped_scripts() -> tuple[str, ...]:
    """Names of all scripts shipped as package data."""
    folder = resources.files("hvconsole.remote.scripts")
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".ps1")))


def encode_body(body: str) -> str:
    """A script body as it travels in the shell environment: gzip, then base64.
    ``mtime=0`` keeps the encoding deterministic (same script, same bytes)."""
    return base64.b64encode(gzip.compress(body.encode("utf-8"), mtime=0)).decode("ascii")


def shell_environment(scripts: tuple[str, ...] | None = None) -> dict[str, str]:
    """Environment variables for a new shell: the shipped scripts' bodies, encoded."""
    names = shipped_scripts() if scripts is None else scripts
    return {env_var_name(n): encode_body(script_body(n)) for n in names}


def encode_params(params: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def _inert_params(params: Mapping[str, Any]) -> str:
    """The parameters as they travel: base64, checked against its alphabet (so no quote,
    semicolon or ``$`` can reach the host's command line or a loop's stdin)."""
    encoded = encode_params(params)
    if not _B64.match(encoded):  # cannot happen with b64encode; a guard against future edits
        raise ValueError("parameters did not encode to base64")
    return encoded


def _powershell_call(loader_text: str, stdin: bytes | None) -> PreparedCall:
    """``powershell.exe -EncodedCommand <loader>``, held to the command-line cap."""
    encoded_loader = base64.b64encode(loader_text.encode("utf-16-le")).decode("ascii")
    call = PreparedCall(command=POWERSHELL, arguments=f"{POWERSHELL_ARGS} {encoded_loader}", stdin=stdin)
    if call.command_line_length > COMMAND_LINE_MAX:
        raise ValueError(f"command line of {call.command_line_length} characters exceeds {COMMAND_LINE_MAX}")
    return call


def prepare_call(script: str, params: Mapping[str, Any]) -> PreparedCall:
    """Build the command line (and stdin, if needed) that runs ``script`` with ``params``."""
    var = env_var_name(script)
    encoded = _inert_params(params)
    inline = len(encoded) <= INLINE_PARAMS_MAX
    text = _LOADER.format(var=var, params=f"'{encoded}'" if inline else STDIN_PARAMS)
    return _powershell_call(text, None if inline else encoded.encode("ascii"))


def prepare_loop_call(script: str) -> PreparedCall:
    """The command line that starts ``script`` as a loop (``-HvcLoop``): the loader with
    only the environment variable's name substituted. Its requests go on stdin
    (:func:`request_line`); the command must be started with stdin as a pipe."""
    return _powershell_call(_LOOP_LOADER.format(var=env_var_name(script)), None)


def request_line(seq: int, params: Mapping[str, Any]) -> bytes:
    """One request to a running loop: ``<seq> <base64 params>`` and a newline, ASCII."""
    if not 1 <= seq <= SEQ_MAX:
        raise ValueError(f"request number {seq} is out of range")
    return f"{seq} {_inert_params(params)}\n".encode("ascii")
