"""What the shell operations read from a WS-Management answer (CommandId, the streams,
the command's state and exit code, RelatesTo), without building an ElementTree for the
answers a host sends every poll.

A steady poll reads three answers (Command, Receive, Signal). Parsing each into a tree and
walking every element in Python cost more client CPU than the rest of a request's fixed
work. Those answers always come in the same few shapes, so each reader first tries a
pattern of the exact text Windows writes (and the demo site copies): the envelope with its
namespace declarations, a header of known elements, and the body the operation answers
with, every value limited to the characters it can hold (ids, URIs, base64, digits). A
document that matches is well-formed XML by construction, and what is read from it is what
the tree walk would read. Anything else, whatever it is (another prefix, an XML
declaration, whitespace between elements, a Fault, an attribute in another order, an
entity, malformed text), goes to the tree walk, which reads it, or fails, exactly as
before: the fast path only ever answers for documents where both give the same result
(tests/remote/test_wsman_replies.py compares them over captured, simulated and odd answers).

Every tree reader here is pywinrm 0.5's reading (``Protocol.run_command``,
``get_command_output_raw``, ``cleanup_command``, ``close_shell``), with its exceptions:
StopIteration when an element is missing, AssertionError when RelatesTo is another id.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

_STATE_DONE = "CommandState/Done"

# Text a value may hold on the fast path: ids, URIs, numbers (no '<', '&', quotes or
# whitespace, nothing outside ASCII; so nothing an XML parser would read differently).
_T = rb"[-\w:/.]"
_HEADER_ELEMENT = (rb"(?:<a:Action>%(t)s*</a:Action>|<a:MessageID>%(t)s*</a:MessageID>|<a:To>%(t)s*</a:To>"
                   rb"|<p:ActivityId>%(t)s*</p:ActivityId>)" % {b"t": _T})


def _declared(prefix: str, uri: str) -> bytes:
    return re.escape(f' xmlns:{prefix}="{uri}"'.encode())


# The envelope as Windows writes it (its prefixes, in its order, bound to its URIs), then a
# header of known elements with exactly one RelatesTo, then the body's opening.
_HEAD = re.compile(
    rb'<s:Envelope xml:lang="en-US"' + _declared("s", "http://www.w3.org/2003/05/soap-envelope")
    + _declared("a", "http://schemas.xmlsoap.org/ws/2004/08/addressing")
    + b"(?:" + _declared("x", "http://schemas.xmlsoap.org/ws/2004/09/transfer") + b")?"
    + _declared("w", "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd")
    + b"(?P<rsp>" + _declared("rsp", "http://schemas.microsoft.com/wbem/wsman/1/windows/shell") + b")?"
    + _declared("p", "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd")
    + rb"><s:Header>%(h)s*<a:RelatesTo>(?P<relates>%(t)s+)</a:RelatesTo>%(h)s*</s:Header><s:Body>"
    % {b"h": _HEADER_ELEMENT, b"t": _T})
_END = rb"</s:Body></s:Envelope>"
_COMMAND_BODY = re.compile(
    rb"<rsp:CommandResponse><rsp:CommandId>([-\w]+)</rsp:CommandId></rsp:CommandResponse>" + _END)
# Signal answers with an empty SignalResponse, Delete with an empty body.
_EMPTY_BODY = re.compile(rb"(?:<rsp:SignalResponse/>|<rsp:SignalResponse></rsp:SignalResponse>)?" + _END)
# A stream's opening tag (group 2: self-closing). Its text is found with one search for
# the next '<' rather than by a pattern over every character of the base64 (a Receive
# answer is mostly base64); the text is then checked by strict base64 decoding.
_STREAM_OPEN = re.compile(rb'<rsp:Stream Name="(std(?:out|err))" CommandId="[-\w]+"(?: End="true")?(/?)>')
_STREAM_CLOSE = b"</rsp:Stream>"
_RECEIVE_OPEN = b"<rsp:ReceiveResponse>"
_RECEIVE_TAIL = re.compile(
    rb'(?:<rsp:CommandState CommandId="[-\w]+" State="(?P<state>%(t)s+)"'
    rb"(?:>(?:<rsp:ExitCode>(?P<exit>-?[0-9]+)</rsp:ExitCode>)?</rsp:CommandState>|/>))?"
    rb"</rsp:ReceiveResponse>%(end)s" % {b"t": _T, b"end": _END})


def command_id(res: bytes | str) -> str:
    """The CommandId of a Command answer (``Protocol.run_command``)."""
    if type(res) is bytes and (head := _HEAD.match(res)) and head.group("rsp"):
        body = _COMMAND_BODY.fullmatch(res, head.end())
        if body:
            return body.group(1).decode("ascii")
    return cast(str, next(node for node in _descendants(res) if node.tag.endswith("CommandId")).text)


def check_relates_to(res: bytes | str, message_id: uuid.UUID | str) -> None:
    """A Signal or Delete answer must relate to the request's MessageID (AssertionError
    when it does not; ``Protocol.cleanup_command`` and ``close_shell``). ``message_id``:
    the UUID, or its text as the request carried it."""
    if type(res) is bytes and (head := _HEAD.match(res)):
        body = _EMPTY_BODY.fullmatch(res, head.end())
        if body and (head.group("rsp") or body.start() == body.end() - len(_END)):
            relates = head.group("relates")
            # The id as our requests write it: equal texts are equal ids; any other spelling
            # (upper case, braces) goes through uuid.UUID below.
            if relates == b"uuid:%s" % str(message_id).encode():
                return
            assert uuid.UUID(relates.decode("ascii").replace("uuid:", "")) == _uuid(message_id)
            return
    _check_relates_to_tree(res, message_id)


def receive_output(res: bytes | str) -> tuple[bytes, bytes, int, bool]:
    """stdout, stderr, exit code (-1 while running) and whether the command is done, read
    as pywinrm reads them: every element named ``*Stream`` with text by its Name, done
    when exactly one element's State ends in ``CommandState/Done``, and then the first
    ``*ExitCode`` element's text (StopIteration when there is none, as there)."""
    if type(res) is bytes and (head := _HEAD.match(res)) and head.group("rsp"):
        read = _receive_output_text(res, head.end())
        if read is not None:
            return read
    return _receive_output_tree(res)


def _receive_output_text(res: bytes, pos: int) -> tuple[bytes, bytes, int, bool] | None:
    """The Receive body from ``pos`` on, when it is in the shape Windows writes; None for
    anything else (the tree walk then reads it)."""
    if not res.startswith(_RECEIVE_OPEN, pos):
        return None
    pos += len(_RECEIVE_OPEN)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    while stream := _STREAM_OPEN.match(res, pos):
        pos = stream.end()
        if stream.group(2):
            continue
        end = res.find(b"<", pos)
        if not res.startswith(_STREAM_CLOSE, end):
            return None
        if end > pos:
            try:
                # Strict: only the base64 alphabet, padding only at the end. Such text is
                # what the tree holds too (no entity, no whitespace) and decodes the same
                # non-strictly; anything else is left to the tree walk and its decoding.
                data = binascii.a2b_base64(res[pos:end], strict_mode=True)
            except binascii.Error:
                return None
            (stdout if stream.group(1) == b"stdout" else stderr).append(data)
        pos = end + len(_STREAM_CLOSE)
    tail = _RECEIVE_TAIL.fullmatch(res, pos)
    if tail is None:
        return None
    state = tail.group("state")
    done = state is not None and state.endswith(b"CommandState/Done")
    exit_text = tail.group("exit")
    if done and exit_text is None:
        return None     # the tree walk raises StopIteration, as pywinrm
    return b"".join(stdout), b"".join(stderr), int(exit_text) if done else -1, done


def _receive_output_tree(res: bytes | str) -> tuple[bytes, bytes, int, bool]:
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    done_states = 0
    exit_text: str | None = None
    have_exit = False
    for node in _descendants(res):
        tag = node.tag
        if tag.endswith("Stream"):
            text = node.text
            if text:
                name = node.attrib["Name"]
                if name == "stdout":
                    stdout.append(_b64decode(text))
                elif name == "stderr":
                    stderr.append(_b64decode(text))
        if node.get("State", "").endswith(_STATE_DONE):
            done_states += 1
        if not have_exit and tag.endswith("ExitCode"):
            have_exit, exit_text = True, node.text
    done = done_states == 1
    code = -1
    if done:
        if not have_exit:
            raise StopIteration
        code = int(exit_text or -1)
    return b"".join(stdout), b"".join(stderr), code, done


def _descendants(res: bytes | str) -> Iterator[ET.Element]:
    """Every element of the answer below its root, in document order: what pywinrm's
    ``findall(".//*")`` yields, walked by ElementTree's own iterator instead of
    ElementPath's generators (one Python step less per element)."""
    nodes = ET.fromstring(res).iter()
    next(nodes)     # the root itself (the Envelope)
    return nodes


def _b64decode(text: str) -> bytes:
    """``base64.b64decode(text.encode("ascii"))`` without copying the text to bytes first
    (binascii reads an ASCII str in place; ``isascii`` is a flag of the str). Text that is
    not ASCII goes the old way, so it fails with the same exception as there."""
    return binascii.a2b_base64(text) if text.isascii() else base64.b64decode(text.encode("ascii"))


def _check_relates_to_tree(res: bytes | str, message_id: uuid.UUID | str) -> None:
    relates_to = cast(str, next(node for node in _descendants(res) if node.tag.endswith("RelatesTo")).text)
    assert uuid.UUID(relates_to.replace("uuid:", "")) == _uuid(message_id)


def _uuid(message_id: uuid.UUID | str) -> uuid.UUID:
    return message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(message_id)


def shell_id(res: bytes | str) -> str:
    """The ShellId of a Create answer (``Protocol.open_shell``; once a shell, so the tree
    walk alone)."""
    return cast(str, next(node for node in _descendants(res) if node.get("Name") == "ShellId").text)
