"""Judging a shipped script's answer: one JSON document on stdout and an exit code.

The document comes plain or, from ``collect.ps1``, compressed: ``HVCZ1:`` then base64 of
gzip of the UTF-8 JSON (docs/collection-script.md "The answer on the wire"). The prefix
cannot begin a JSON text, so the two forms never get mistaken for each other; the plain
form stays readable because recorded answers, old captures and the loader's own
"script not loaded" document are plain.

stderr is not a verdict: Windows PowerShell writes CLIXML progress records there even on
success. A call succeeded when the exit code is 0 and stdout holds one JSON object that
is not an ``{"hvc_error": ...}`` envelope. Error text from stderr (CLIXML or plain) is
only used to explain a failure.
"""

from __future__ import annotations

import binascii
import json
import re
import zlib
from typing import Any

from .errors import RemoteError
from .session import MAX_OUTPUT_BYTES, ScriptResult

_CLIXML_ERROR = re.compile(r'<S S="Error">(.*?)</S>', re.DOTALL)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XML_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}
MAX_DETAIL_CHARS = 240
COMPRESSED_PREFIX = "HVCZ1:"
# The JSON inside a compressed answer may be no larger than a plain answer could have been.
MAX_DOCUMENT_BYTES = MAX_OUTPUT_BYTES
# gzip framing for zlib: header and trailer (CRC-32, length) checked, no zlib header.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def json_document(result: ScriptResult, *, host: str, script: str,
                  max_bytes: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    """The JSON object the script printed, or a :class:`RemoteError` (kind ``script``
    for a failure the script reported, ``protocol`` for an answer that is not one).
    ``max_bytes`` caps the JSON text a compressed answer may inflate to."""
    text = answer_text(result.stdout, host=host, script=script, max_bytes=max_bytes)
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


def answer_text(stdout: str, *, host: str, script: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The JSON text of an answer in either form: plain text is returned as it is, the
    compressed form inflated (at most ``max_bytes`` of it: a small answer must not be able
    to inflate into gigabytes). A compressed form that does not decode is a
    :class:`RemoteError` of kind ``protocol``."""
    text = stdout.strip()
    if not text.startswith(COMPRESSED_PREFIX):
        return text
    where = f"the compressed answer of {script} from {host}"
    try:
        packed = binascii.a2b_base64(text[len(COMPRESSED_PREFIX):], strict_mode=True)
    except (binascii.Error, ValueError):
        raise RemoteError("protocol", f"{where} is not valid base64") from None
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        raw = inflater.decompress(packed, max_bytes + 1)
    except zlib.error as exc:
        raise RemoteError("protocol", f"{where} is not valid gzip ({exc})") from None
    if len(raw) > max_bytes or inflater.unconsumed_tail:
        raise RemoteError("protocol", f"{where} inflates to more than {max_bytes:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise RemoteError("protocol", f"{where} is not valid gzip (truncated or followed by other data)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteError("protocol", f"{where} is not UTF-8 text (byte {exc.start})") from None


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
