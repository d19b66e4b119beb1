"""Replays the recorded Windows exchanges against the endpoint and compares the replies.

Each capture in ``tests/fixtures/wsman-captures/`` (from pypsrp's test data, MIT, see
``LICENSE.pypsrp``) is a list of request/response pairs recorded against a Windows server. The
captured requests are sent as they are (only the shell and command ids are swapped for ours
and OperationTimeout is cut to 1 s), and each reply must have the recorded reply's element
tree: the same prefixed tags, the same attribute names (namespace declarations included), the
same order, the same HTTP status, the same actions, fault codes, stream names and states.
IDs, times and payload text are not compared, with two exceptions documented below.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from xml.dom import minidom

import pytest
import requests
import yaml

from hvconsole.sim.wsman import WsmanEndpoint
from wsman_support import ScriptedRunner, creds, endpoint, make_endpoint, raw_session, runner  # noqa: F401

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wsman-captures"

# Gates to open before replaying message N (the capture's command waits on them).
RELEASE_BEFORE = {"winrs_operation_timeout.yml": {5: "Start-Sleep"}}
# Captures whose command prints what the scripted runner prints, write for write: their
# stdout/stderr bytes must be equal and their Stream elements must match one for one. The
# others print the host's whole environment (`set`) or split writes as PowerShell 5.1 does
# internally; there only the run of data Streams is compared as one.
EXACT_OUTPUT = {"winrs_standard.yml", "winrs_unicode.yml", "winrs_stderr_rc.yml",
                "winrs_operation_timeout.yml"}
SAME_BYTES = EXACT_OUTPUT | {"winrs_send.yml"}
# Values that carry meaning (not ids, times or payload) and are compared too.
COMPARED_ATTRIBUTE_VALUES = {"Name", "State", "End", "Code", "xml:lang"}
COMPARED_TEXTS = {"a:Action", "s:Value", "rsp:ExitCode", "w:FaultDetail", "w:ResourceURI",
                  "rsp:ResourceUri", "rsp:InputStreams", "rsp:OutputStreams"}
# The captures come from two Windows servers, and only one of them sends p:ActivityId.
OPTIONAL_ELEMENTS = {"p:ActivityId"}

_SHELL_ID = re.compile(r'<w:Selector Name="ShellId">([^<]+)</w:Selector>')
_COMMAND_ID = re.compile(r"<rsp:CommandId>([^<]+)</rsp:CommandId>")
_TIMEOUT = re.compile(r"(<wsman:OperationTimeout>)[^<]*(</wsman:OperationTimeout>)")
_MESSAGE_ID = re.compile(r"<(?:\w+:)?MessageID>([^<]+)</(?:\w+:)?MessageID>")
_RELATES_TO = re.compile(r"<a:RelatesTo>([^<]+)</a:RelatesTo>")


def shape(xml: str | bytes, *, merge_data_streams: bool) -> tuple:
    return _shape(minidom.parseString(xml).documentElement, merge_data_streams)


def _shape(el: minidom.Element, merge: bool) -> tuple:
    # A variable's name is payload (and Windows mangles a backslash in it when echoing).
    compared = COMPARED_ATTRIBUTE_VALUES if el.tagName != "rsp:Variable" else set()
    attrs = tuple(sorted(
        (name, el.getAttribute(name) if name in compared else "")
        for name in el.attributes.keys()
        if not (el.tagName == "f:WSManFault" and name == "Machine")
    ))
    text = ""
    if el.tagName in COMPARED_TEXTS:
        text = "".join(n.data for n in el.childNodes if n.nodeType == n.TEXT_NODE).strip()
    children: list[tuple] = []
    for child in el.childNodes:
        if child.nodeType != child.ELEMENT_NODE or child.tagName in OPTIONAL_ELEMENTS:
            continue
        item = _shape(child, merge)
        is_data = child.tagName == "rsp:Stream" and not child.hasAttribute("End")
        if merge and is_data and children and children[-1] == item:
            continue
        children.append(item)
    return (el.tagName, attrs, text, tuple(children))


def streams(xml: str | bytes) -> dict[str, bytes]:
    out = {"stdout": b"", "stderr": b""}
    doc = minidom.parseString(xml)
    for node in doc.getElementsByTagName("rsp:Stream"):
        data = "".join(n.data for n in node.childNodes if n.nodeType == n.TEXT_NODE)
        out[node.getAttribute("Name")] += base64.b64decode(data)
    return out


def capture_names() -> list[str]:
    return sorted(p.name for p in CAPTURES.glob("*.yml"))


def test_all_nine_captures_are_present() -> None:
    assert len(capture_names()) == 9 and (CAPTURES / "LICENSE.pypsrp").is_file()


@pytest.mark.parametrize("name", capture_names())
def test_replies_match_the_windows_capture(name: str, endpoint: WsmanEndpoint, runner: ScriptedRunner,
                                           raw_session: requests.Session) -> None:
    messages = yaml.safe_load((CAPTURES / name).read_text(encoding="utf-8"))["messages"]
    ids: dict[str, str] = {}
    ours_out = {"stdout": b"", "stderr": b""}
    theirs_out = {"stdout": b"", "stderr": b""}
    seen_message_ids: set[str] = set()
    for index, message in enumerate(messages):
        gate = RELEASE_BEFORE.get(name, {}).get(index)
        if gate:
            runner.gate(gate).set()
        request = message["request"]
        for theirs, ours in ids.items():
            request = request.replace(theirs, ours)
        request = _TIMEOUT.sub(r"\g<1>PT1S\g<2>", request)
        reply = raw_session.post(endpoint.url, data=request.encode("utf-8"), timeout=30)
        expected = message["response"]
        where = f"{name} message {index}"

        assert reply.status_code == message.get("transport_error", {}).get("code", 200), where
        assert reply.headers["Content-Type"] == "application/soap+xml;charset=UTF-8", where
        merge = name not in EXACT_OUTPUT
        assert shape(reply.content, merge_data_streams=merge) == shape(expected, merge_data_streams=merge), where

        text = reply.content.decode("utf-8")
        assert _RELATES_TO.search(text).group(1) == _MESSAGE_ID.search(request).group(1), where
        message_id = _MESSAGE_ID.search(text).group(1)
        assert message_id not in seen_message_ids and message_id != _MESSAGE_ID.search(request).group(1)
        seen_message_ids.add(message_id)

        for pattern in (_SHELL_ID, _COMMAND_ID):
            theirs_id, ours_id = pattern.search(expected), pattern.search(text)
            if theirs_id and ours_id:
                ids[theirs_id.group(1)] = ours_id.group(1)
        for stream_name, data in streams(reply.content).items():
            ours_out[stream_name] += data
        for stream_name, data in streams(expected).items():
            theirs_out[stream_name] += data

    if name in SAME_BYTES:
        assert ours_out == theirs_out
    assert endpoint.shells() == []         # every capture ends with a Delete


def test_noprofile_and_codepage_options_are_read_from_the_captured_create(
        endpoint: WsmanEndpoint, raw_session: requests.Session) -> None:
    for capture, check in (("winrs_noprofile.yml", lambda s: s.noprofile),
                           ("winrs_unicode.yml", lambda s: s.codepage == 65001)):
        create = yaml.safe_load((CAPTURES / capture).read_text(encoding="utf-8"))["messages"][0]["request"]
        assert raw_session.post(endpoint.url, data=create.encode("utf-8"), timeout=30).status_code == 200
        [shell] = [s for s in endpoint.shells() if check(s)]
        endpoint.reset_shells()


def test_environment_capture_variables_arrive_intact(endpoint: WsmanEndpoint, raw_session: requests.Session) -> None:
    create = yaml.safe_load((CAPTURES / "winrs_environment.yml").read_text(encoding="utf-8"))["messages"][0]["request"]
    raw_session.post(endpoint.url, data=create.encode("utf-8"), timeout=30)
    [shell] = endpoint.shells()
    assert shell.environment == {"env1": "var1", "1234": "5678",
                                 "_-(){}[]<>*+-/\\?\"!@#$^&|;:i,.`~0": "_-(){}[]<>*+-/\\?\"!@#$^&|;:i,.`~0"}


def test_shape_comparison_notices_differences() -> None:
    """The comparison itself must fail on a changed prefix, attribute, order or state."""
    reply = ('<s:Envelope xmlns:s="S" xmlns:rsp="R"><s:Body><rsp:ReceiveResponse>'
             '<rsp:Stream Name="stdout" CommandId="1">aGk=</rsp:Stream>'
             '<rsp:CommandState CommandId="1" State="x/Done"/></rsp:ReceiveResponse></s:Body></s:Envelope>')
    base = shape(reply, merge_data_streams=False)
    for changed in (reply.replace("rsp:", "shell:").replace("xmlns:rsp", "xmlns:shell"),
                    reply.replace(' CommandId="1">aGk=', ">aGk="),
                    reply.replace("x/Done", "x/Running"),
                    reply.replace('Name="stdout"', 'Name="stderr"'),
                    reply.replace('<s:Envelope xmlns:s="S" xmlns:rsp="R">', '<s:Envelope xmlns:rsp="R" xmlns:s="S" xmlns:x="X">')):
        assert shape(changed, merge_data_streams=False) != base
    assert shape(reply.replace("aGk=", "aGVsbG8="), merge_data_streams=False) == base
