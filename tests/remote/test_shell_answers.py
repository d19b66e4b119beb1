"""The shell operations on answers in the Windows shape (the fast readers): an answer that
relates to another request is refused, the id the request carried is the one checked, and
the exit code and streams are read as sent."""

from __future__ import annotations

import re
import secrets
import uuid

import pytest

from hvconsole.remote.shell_protocol import TemplatedProtocol
from hvconsole.sim.wsman import replies as sim

CID = "CF84C20A-0A35-43FA-AF78-0B4711DA5F30"
SHELL = "11111111-2222-3333-4444-555555555555"


def protocol_answering(make_answer) -> TemplatedProtocol:
    """A protocol whose host answers each request with ``make_answer(message id sent)``."""
    protocol = TemplatedProtocol("http://127.0.0.1:5985/wsman", username="u", password=secrets.token_urlsafe(8))

    def send_message(message: str | bytes) -> bytes:
        text = message.decode() if isinstance(message, bytes) else message
        sent_id = re.search(r"<a:MessageID>uuid:([-0-9a-f]+)</a:MessageID>", text).group(1)
        return make_answer(sent_id)

    protocol.send_message = send_message    # type: ignore[method-assign]
    protocol.transport.close_session = lambda: None     # type: ignore[method-assign]
    return protocol


@pytest.mark.parametrize("spelling", [str, str.upper, lambda i: "{" + i + "}"])
def test_a_signal_or_delete_answer_to_this_request_is_taken(spelling):
    p = protocol_answering(lambda sent: sim.signal_response("uuid:" + spelling(sent)))
    p.cleanup_command(SHELL, CID)
    p = protocol_answering(lambda sent: sim.delete_response("uuid:" + spelling(sent)))
    p.close_shell(SHELL)


def test_a_stale_signal_or_delete_answer_is_refused():
    """A reused connection that hands back an earlier request's answer: the RelatesTo of
    another id fails (pywinrm's AssertionError), on the fast path as on the tree walk."""
    stale = f"uuid:{uuid.uuid4()}"
    with pytest.raises(AssertionError):
        protocol_answering(lambda sent: sim.signal_response(stale)).cleanup_command(SHELL, CID)
    with pytest.raises(AssertionError):
        protocol_answering(lambda sent: sim.delete_response(stale)).close_shell(SHELL)


def test_command_and_receive_answers_in_the_windows_shape():
    p = protocol_answering(lambda sent: sim.command_response(f"uuid:{sent}", CID))
    assert p.run_command(SHELL, "powershell.exe") == CID
    streams = [sim.stream_element("stdout", CID, b"out"), sim.stream_element("stderr", CID, b"err"),
               sim.stream_element("stdout", CID, b"put", end=True), sim.stream_element("stderr", CID, end=True)]
    p = protocol_answering(lambda sent: sim.receive_response(f"uuid:{sent}", CID, streams, 3))
    assert p.get_command_output_raw(SHELL, CID) == (b"output", b"err", 3, True)
    p = protocol_answering(lambda sent: sim.receive_response(f"uuid:{sent}", CID, streams[:2], None))
    assert p.get_command_output_raw(SHELL, CID) == (b"out", b"err", -1, False)
