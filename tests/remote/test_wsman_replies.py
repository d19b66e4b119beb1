"""The answer readers' fast path gives what the ElementTree walk gives, or the same failure,
for every answer: captured from Windows, written by the demo site, written by hand in odd
shapes, and thousands of mutations of them (cut short, a byte replaced, text inserted)."""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable

import pytest
import yaml
from wsman_replay import CAPTURES, SHELL_NS, fault_answer, receive_answer

from hvconsole.remote import wsman_replies as wr
from hvconsole.sim.wsman import replies as sim

CID = "CF84C20A-0A35-43FA-AF78-0B4711DA5F30"
MID = uuid.UUID("2d32fb4f-c4c6-4b71-aca6-09aaafba753f")


def _tree_command_id(res: bytes | str) -> str:
    return next(node for node in wr._descendants(res) if node.tag.endswith("CommandId")).text  # type: ignore[return-value]


READERS: dict[str, tuple[Callable, Callable]] = {
    "command": (wr.command_id, _tree_command_id),
    "receive": (wr.receive_output, wr._receive_output_tree),
    "relates": (lambda res: wr.check_relates_to(res, MID), lambda res: wr._check_relates_to_tree(res, MID)),
    # The id as text (wsman_messages.new_message_id), against pywinrm's UUID comparison.
    "relates text": (lambda res: wr.check_relates_to(res, str(MID)), lambda res: wr._check_relates_to_tree(res, MID)),
}


def outcome(fn: Callable, res: bytes | str) -> tuple:
    try:
        return ("ok", fn(res))
    except Exception as exc:    # the failure itself is what is compared
        return ("raised", type(exc), str(exc))


def assert_same(res: bytes | str) -> None:
    for name, (fast, tree) in READERS.items():
        assert outcome(fast, res) == outcome(tree, res), (name, res[:400])


def captured() -> list[bytes]:
    answers = []
    for path in sorted(CAPTURES.glob("*.yml")):
        for message in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]:
            answers.append(message["response"].encode("utf-8"))
    return answers


def simulated() -> list[bytes]:
    rel = f"uuid:{MID}"
    streams = [sim.stream_element("stdout", CID, b"hello\r\n"), sim.stream_element("stderr", CID, b"oops"),
               sim.stream_element("stdout", CID, bytes(range(256)) * 9),
               sim.stream_element("stdout", CID, end=True), sim.stream_element("stderr", CID, end=True)]
    return [
        sim.command_response(rel, CID),
        sim.signal_response(rel),
        sim.delete_response(rel),
        sim.send_response(rel),
        sim.receive_response(rel, CID, streams, 0),
        sim.receive_response(rel, CID, streams[:2], None),
        sim.receive_response(rel, CID, [], 3),
        sim.receive_response(rel, CID, streams, -1073741510),
        sim.receive_response(rel.upper(), CID, streams[:1], 0),
        sim.signal_response(f"uuid:{uuid.uuid4()}"),      # another id: AssertionError both ways
        sim.signal_response(str(MID)),                     # no "uuid:" prefix
        sim.signal_response("{" + str(MID) + "}"),
    ]


def _state(inner: str | None, state: str = "Done", prefix: str = "rsp") -> str:
    """A CommandState element: self-closing when ``inner`` is None."""
    start = f'<{prefix}:CommandState CommandId="{CID}" State="{SHELL_NS}/CommandState/{state}"'
    return f"{start}/>" if inner is None else f"{start}>{inner}</{prefix}:CommandState>"


def _exit(text: str) -> str:
    return f"<rsp:ExitCode>{text}</rsp:ExitCode>"


def _odd_receive(streams: str, state: str = "", prefix: str = "rsp") -> bytes:
    state = state or _state(f"<{prefix}:ExitCode>0</{prefix}:ExitCode>", prefix=prefix)
    return receive_answer().replace(receive_answer().split("<s:Body>")[1].split("</s:Body>")[0],
                                    f"<{prefix}:ReceiveResponse>{streams}{state}</{prefix}:ReceiveResponse>").encode()


def odd() -> list[bytes | str]:
    b64 = base64.b64encode(b"some output").decode()
    stream = f'<rsp:Stream Name="stdout" CommandId="{CID}">{{}}</rsp:Stream>'
    base = receive_answer(b"text", b"err").encode()
    answers: list[bytes | str] = [
        base, base.decode(),                                    # a str answer: the tree walk
        b'<?xml version="1.0" encoding="utf-8"?>' + base,
        base.replace(b"><s:Header>", b">\n<s:Header>"),
        base + b"\n", base + b"<!-- after -->", base + b"<x/>",
        receive_answer(done=False).encode(),
        receive_answer(b"x" * 100000, exit_code=255).encode(),
        _odd_receive(stream.format(b64)),
        _odd_receive(stream.format(b64[:-1])),                  # bad padding: binascii.Error both ways
        _odd_receive(stream.format(b64[:5] + "\n" + b64[5:])),  # whitespace: the lenient decoder
        _odd_receive(stream.format(b64[:5] + "&#65;" + b64[5:])),
        _odd_receive(stream.format(b64[:5] + "&amp;" + b64[5:])),
        _odd_receive(stream.format("QQ==QQ==")),                # padding inside
        _odd_receive(stream.format("=QQ==")),
        _odd_receive(stream.format("Q")),
        _odd_receive(stream.format("é" + b64)),
        _odd_receive(stream.format(b64).replace('Name="stdout"', 'Name="other"')),
        _odd_receive(stream.format(b64).replace('Name="stdout"', 'Name="stderr"')),
        _odd_receive(stream.format(b64).replace(f'CommandId="{CID}"', f'CommandId="{CID}" End="true"')),
        _odd_receive(stream.format(b64).replace(f'Name="stdout" CommandId="{CID}"',
                                                f'CommandId="{CID}" Name="stdout"')),
        _odd_receive(f'<rsp:Stream Name="stdout" CommandId="{CID}"/>'),
        _odd_receive(stream.format(b64), state=_state(None)),
        _odd_receive(stream.format(b64), state=_state("")),
        _odd_receive(stream.format(b64), state=_state(_exit(""))),
        _odd_receive(stream.format(b64), state=_state(_exit("x"))),
        _odd_receive(stream.format(b64), state=_state(_exit("-7"))),
        _odd_receive(stream.format(b64), state=_state(_exit("0")) * 2),
        _odd_receive(stream.format(b64), state=_state(_exit("0"), "DoneNot")),
        _odd_receive(stream.format(b64), state=_state(_exit("0"), "Running")),
        _odd_receive(stream.format(b64), state=_state(None, "Running")),
        _odd_receive(stream.format(b64), state=" "),
        _odd_receive(stream.format(b64), prefix="q"),           # unbound prefix: ParseError both ways
        _odd_receive(stream.format(b64) + "<rsp:Extra/>"),
        fault_answer(2150858793, "w:TimedOut", "The WS-Management service cannot complete the operation").encode(),
        fault_answer(87, "w:InvalidParameter", "a &amp; b").encode(),
        b"", b"<", b"not xml at all", b"<s:Envelope/>",
    ]
    command = sim.command_response(f"uuid:{MID}", CID)
    signal = sim.signal_response(f"uuid:{MID}")
    delete = sim.delete_response(f"uuid:{MID}")
    for doc in (command, signal, delete):
        answers += [
            doc.replace(b"<a:RelatesTo>", b"<a:RelatesTo>uuid:" + str(MID).encode() + b"</a:RelatesTo><a:RelatesTo>"),
            doc.replace(b"<a:RelatesTo>uuid:" + str(MID).encode(), b"<a:RelatesTo>"),
            doc.replace(b' xmlns:rsp="' + SHELL_NS.encode() + b'"', b""),
            doc.replace(b'xmlns:a="', b'xmlns:a="urn:other:'),
            doc.replace(b"<a:To>", b"<a:Other>x</a:Other><a:To>"),
            doc.replace(b"<p:ActivityId>",
                        b'<p:OperationID s:mustUnderstand="false">uuid:x</p:OperationID><p:ActivityId>'),
            doc.replace(b"</s:Body>", b"<rsp:SignalResponse/></s:Body>"),
            doc.replace(b"</s:Body>", b"<s:Extra/></s:Body>"),
            doc.replace(b"<s:Body>", b"<s:Body/><s:Body>"),
            doc.replace(b"<s:Body></s:Body>", b"<s:Body/>"),
        ]
    answers.append(command.replace(CID.encode(), b""))
    answers.append(command.replace(CID.encode(), b"a&amp;b"))
    answers.append(command.replace(b"<rsp:CommandId>", b"<rsp:CommandId>\n"))
    answers.append(signal.replace(b"<rsp:SignalResponse/>", b"<rsp:SignalResponse></rsp:SignalResponse>"))
    return answers


ALL = captured() + simulated() + odd()


@pytest.mark.parametrize("res", ALL, ids=range(len(ALL)))
def test_same_as_the_tree_walk(res: bytes | str) -> None:
    assert_same(res)


def test_the_fast_path_answers_the_steady_poll() -> None:
    """The answers a poll reads are the ones the fast path serves (else it saves nothing)."""
    rel = f"uuid:{MID}"
    tree = wr._descendants

    def no_tree(res: bytes | str) -> None:
        raise AssertionError("the tree walk ran")

    wr._descendants = no_tree   # type: ignore[assignment]
    try:
        assert wr.command_id(sim.command_response(rel, CID)) == CID
        streams = [sim.stream_element("stdout", CID, b"{}"), sim.stream_element("stdout", CID, end=True),
                   sim.stream_element("stderr", CID, end=True)]
        assert wr.receive_output(sim.receive_response(rel, CID, streams, 0)) == (b"{}", b"", 0, True)
        assert wr.receive_output(sim.receive_response(rel, CID, streams[:1], None)) == (b"{}", b"", -1, False)
        wr.check_relates_to(sim.signal_response(rel), MID)
        wr.check_relates_to(sim.delete_response(rel), MID)
        for res in captured():
            if b"CommandResponse" in res:
                wr.command_id(res)
            elif b"ReceiveResponse" in res:
                wr.receive_output(res)
    finally:
        wr._descendants = tree      # type: ignore[assignment]


MUTATIONS = [b"<", b">", b"&", b" ", b'"', b"=", b"/", b"\x00", b"\xc3\xa9", b"A", b"-", b":", b"\n", b"&amp;", b"<x/>"]


def test_mutations_read_or_fail_alike() -> None:
    """Every answer cut short, with a byte replaced or text inserted at random places."""
    rng = random.Random(12)
    bases = [r for r in ALL if isinstance(r, bytes) and len(r) < 20000 and (b"Response" in r or b"Fault" in r)]
    for res in bases:
        for _ in range(60):
            at = rng.randrange(len(res) + 1)
            what = rng.choice(MUTATIONS)
            for mutated in (res[:at], res[:at] + what + res[at + 1:], res[:at] + what + res[at:]):
                assert_same(mutated)


def test_the_shell_id_of_a_create_answer():
    rel = f"uuid:{MID}"
    for res in (r for r in captured() if b"ResourceCreated" in r):
        assert wr.shell_id(res) == res.split(b"<rsp:ShellId>")[1].split(b"<")[0].decode()
    assert wr.shell_id(sim.create_response(rel, sim.ShellDescription(
        "ABC-1", "http://h:5985/wsman", "user", "127.0.0.1", {}, None, "PT60S", "stdin", "stdout stderr"))) == "ABC-1"
