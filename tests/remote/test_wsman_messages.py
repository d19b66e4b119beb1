"""The prepared WS-Management envelopes are byte for byte what pywinrm's Protocol sends,
for every shell message, ordinary and hostile values alike; and a Receive answer reads
the same through both."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from winrm.protocol import Protocol

from hvconsole.remote import wsman_messages as msg
from hvconsole.remote.shell_protocol import TemplatedProtocol
from hvconsole.remote.wsman_replies import receive_output as parse_receive

# Text that must be escaped (or quoted) exactly as xmltodict escapes it.
HOSTILE = ['a&b<c>d"e\'f', '"', "'", "\"'", "]]>", "\n\r\t", "&amp;", "<!--x-->", "ü€😀", " ", ""]
SHELL_ID = "11111111-2222-3333-4444-555555555555"
COMMAND_ID = "66666666-7777-8888-9999-000000000000"
ANSWER_ID = uuid.UUID(int=7)
# An answer that satisfies every parse of pywinrm's shell methods.
ANSWER = (f'<s:Envelope xmlns:s="urn:s" xmlns:r="urn:r"><s:Body><r:Shell><r:Selector Name="ShellId">'
          f'{SHELL_ID}</r:Selector><r:CommandId>{COMMAND_ID}</r:CommandId>'
          f'<a:RelatesTo xmlns:a="urn:a">uuid:{ANSWER_ID}</a:RelatesTo></r:Shell></s:Body></s:Envelope>').encode()


def _sent(cls: type[Protocol], operation: str, *args: Any, **kwargs: Any) -> str:
    protocol = cls("http://127.0.0.1:5985/wsman", username="u", password=secrets.token_urlsafe(8),
                   operation_timeout_sec=17, read_timeout_sec=27)
    sent: list[str] = []

    def send_message(message: str) -> bytes:
        sent.append(message)
        return ANSWER

    protocol.send_message = send_message  # type: ignore[method-assign]
    protocol.transport.close_session = lambda: None  # type: ignore[method-assign]
    # The same message id both ways: pywinrm's uuid4 and ours (wsman_messages.new_message_id).
    with mock.patch("uuid.uuid4", return_value=ANSWER_ID), \
            mock.patch.object(msg, "new_message_id", return_value=str(ANSWER_ID)):
        getattr(protocol, operation)(*args, **kwargs)
    assert len(sent) == 1
    return sent[0]


def _same(operation: str, *args: Any, **kwargs: Any) -> None:
    ours = _sent(TemplatedProtocol, operation, *args, **kwargs)
    assert ours == _sent(Protocol, operation, *args, **kwargs)


@pytest.mark.parametrize("value", HOSTILE)
def test_create_shell_matches(value: str) -> None:
    _same("open_shell", codepage=65001, noprofile=True,
          env_vars={"HVC_SCRIPT_COLLECT": value, "N" + value.strip() if value.strip() else "N": "x" + value})
    _same("open_shell")
    _same("open_shell", i_stream=value, o_stream=value, working_directory=value, idle_timeout=value or None,
          env_vars={}, noprofile=False, codepage=437)
    _same("open_shell", idle_timeout=600, working_directory="C:\\")


@pytest.mark.parametrize("value", HOSTILE)
def test_command_matches(value: str) -> None:
    _same("run_command", SHELL_ID, "powershell.exe", [f"-NoProfile -Command {value}"],
          console_mode_stdin=False, skip_cmd_shell=True)
    _same("run_command", SHELL_ID, value, [value, value.encode()], console_mode_stdin=True)
    _same("run_command", SHELL_ID, "ipconfig")
    _same("run_command", SHELL_ID, "x", [""])
    _same("run_command", value or SHELL_ID, value)


@pytest.mark.parametrize("value", HOSTILE)
def test_send_receive_signal_delete_match(value: str) -> None:
    for end in (True, False):
        _same("send_command_input", SHELL_ID, COMMAND_ID, value.encode("utf-8"), end=end)
    _same("send_command_input", SHELL_ID, COMMAND_ID, "dir & exit\r\n")   # text: code page 437
    _same("send_command_input", SHELL_ID, value or COMMAND_ID, b"\x00\xff" * 40)
    _same("get_command_output_raw", SHELL_ID, value)
    _same("cleanup_command", SHELL_ID, value)
    _same("close_shell", value or SHELL_ID, close_session=False)
    _same("close_shell", SHELL_ID)


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text(), st.binary(max_size=64), st.booleans())
def test_any_text_matches(text: str, other: str, data: bytes, flag: bool) -> None:
    _same("open_shell", env_vars={"A": text, "B": other}, noprofile=flag, working_directory=other or None)
    _same("run_command", SHELL_ID, text, [other], console_mode_stdin=flag, skip_cmd_shell=not flag)
    _same("send_command_input", SHELL_ID, other or COMMAND_ID, data, end=flag)
    _same("get_command_output_raw", text or SHELL_ID, other)
    _same("cleanup_command", SHELL_ID, text)


def _receive_answer(streams: list[tuple[str, bytes]], state: str, exit_code: str | None) -> bytes:
    body = "".join(f'<rsp:Stream Name="{name}" CommandId="c">{base64.b64encode(data).decode()}</rsp:Stream>'
                   for name, data in streams)
    code = f"<rsp:ExitCode>{exit_code}</rsp:ExitCode>" if exit_code is not None else ""
    return (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            f'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body>'
            f'<rsp:ReceiveResponse>{body}<rsp:Stream Name="stdout" CommandId="c" End="true"></rsp:Stream>'
            f'<rsp:CommandState CommandId="c" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/'
            f'CommandState/{state}">{code}</rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>').encode()


def _pywinrm_receive(answer: bytes) -> tuple[bytes, bytes, int, bool]:
    protocol = Protocol("http://127.0.0.1:5985/wsman", username="u", password=secrets.token_urlsafe(8))
    protocol.send_message = lambda message: answer  # type: ignore[method-assign]
    return protocol.get_command_output_raw(SHELL_ID, COMMAND_ID)


@pytest.mark.parametrize("answer", [
    _receive_answer([("stdout", b"{}\n"), ("stderr", b"warn"), ("stdout", b"more")], "Done", "0"),
    _receive_answer([("stdout", b"x" * 5000)], "Running", None),
    _receive_answer([], "Done", "86"),
    _receive_answer([("stderr", "ü".encode())], "Done", ""),
    _receive_answer([("other", b"ignored")], "Done", "-1"),
])
def test_receive_answer_reads_the_same(answer: bytes) -> None:
    assert parse_receive(answer) == _pywinrm_receive(answer)


def test_receive_done_without_exit_code_fails_the_same() -> None:
    answer = _receive_answer([("stdout", b"a")], "Done", None)
    with pytest.raises(StopIteration):
        _pywinrm_receive(answer)
    with pytest.raises(StopIteration):
        parse_receive(answer)


def test_message_ids_are_uuid4_texts():
    """new_message_id: what str(uuid.uuid4()) gives (version 4, RFC 4122 variant, lower-case
    hex, hyphens where UUID text has them), a new one each time."""
    ids = [msg.new_message_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {text[19] for text in ids} == set("89ab")
