"""Judging a shipped script's answer: one JSON document on stdout and an exit code.

stderr is not a verdict: Windows PowerShell writes CLIXML progress records there even on
success. A call succeeded when the exit code is 0 and stdout holds one JSON object that
is not an ``{"hvc_error": ...}`` envelope. Error text from stderr (CLIXML or plain) is
only used to explain a failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import RemoteError
from .session import ScriptResult

_CLIXML_ERROR = re.compile(r'<S S="Error">(.*?)</S>', re.DOTALL)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XML_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}
MAX_DETAIL_CHARS = 240


def json_document(result: ScriptResult, *, host: str, script: str) -> dict[str, Any]:
    """The JSON object the script printed, or a :class:`RemoteError` (kind ``script``
    for a failure the script reported, ``protocol`` for an answer that is not one)."""
    text = result.stdout.strip()
    doc: Any = None
    problem: str | None = None
    if not text:
        problem = "no output"
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"not JSON ({exc.msg} at character {exc.pos})"
        except RecursionError:
            problem = "JSON nested too deeply"
    if isinstance(doc, dict) and "hvc_error" in doc:
        raise RemoteError("script", f"{script} failed on {host}: {_hvc_error_text(doc['hvc_error'])}")
    if result.exit_code != 0:
        detail = stderr_text(result.stderr) or (text[:MAX_DETAIL_CHARS] if text else "")
        tail = f": {detail}" if detail else ""
        raise RemoteError("script", f"{script} on {host} exited with code {result.exit_code}{tail}")
    if problem is not None:
        raise RemoteError("protocol", f"the answer of {script} from {host} is {problem}")
    if not isinstance(doc, dict):
        raise RemoteError("protocol", f"the answer of {script} from {host} is not a JSON object")
    return doc


def _hvc_error_text(err: object) -> str:
    if isinstance(err, dict):
        message = str(err.get("message") or "no message").strip()
        where = err.get("where")
        return _clip(f"{message} (at {where})" if where else message)
    return _clip(str(err))


def stderr_text(stderr: str) -> str:
    """Readable error text from stderr: the Error records of a CLIXML stream, or the
    plain text; progress records alone yield ``""``."""
    s = stderr.strip()
    if s.startswith("#< CLIXML"):
        parts = [_unescape(m) for m in _CLIXML_ERROR.findall(s)]
        return _clip(" ".join(" ".join(parts).split()))
    return _clip(" ".join(s.split()))


def _unescape(text: str) -> str:
    text = _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    for entity, char in _XML_ENTITIES.items():
        text = text.replace(entity, char)
    return text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
