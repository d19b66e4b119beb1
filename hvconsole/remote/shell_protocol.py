"""pywinrm's ``Protocol`` with its shell requests built from prepared text.

Same methods, same wire format, same answers and exceptions as ``winrm.Protocol`` 0.5;
only cheaper per request: the envelopes come from :mod:`.wsman_messages` instead of
``xmltodict.unparse``, and a Receive answer is walked once instead of three times.
Settings and fault handling (``send_message``) are pywinrm's, as :mod:`.wsman_protocol`
has them without importing pywinrm (the exceptions are :mod:`.wsman_errors`').
"""

from __future__ import annotations

import base64
import binascii
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import cast

from . import wsman_messages as msg
from .wsman_protocol import WsmanProtocol

_STATE_DONE = "CommandState/Done"


class TemplatedProtocol(WsmanProtocol):
    """``winrm.Protocol``'s shell operations, sending prepared envelopes."""

    def open_shell(self, i_stream: str = "stdin", o_stream: str = "stdout stderr",
                   working_directory: str | None = None, env_vars: dict[str, str] | None = None,
                   noprofile: bool = False, codepage: int = 437, lifetime: None = None,
                   idle_timeout: str | int | None = None) -> str:
        res = self.send_message(msg.create_shell(
            str(uuid.uuid4()), self.operation_timeout_sec, i_stream=i_stream, o_stream=o_stream,
            working_directory=working_directory, env_vars=env_vars, noprofile=noprofile,
            codepage=codepage, idle_timeout=idle_timeout))
        return cast(str, next(node for node in _descendants(res) if node.get("Name") == "ShellId").text)

    def run_command(self, shell_id: str, command: str, arguments: Iterable[str | bytes] = (),
                    console_mode_stdin: bool = True, skip_cmd_shell: bool = False) -> str:
        res = self.send_message(msg.command(
            str(uuid.uuid4()), self.operation_timeout_sec, shell_id, command, arguments,
            console_mode_stdin=console_mode_stdin, skip_cmd_shell=skip_cmd_shell))
        return cast(str, next(node for node in _descendants(res) if node.tag.endswith("CommandId")).text)

    def send_command_input(self, shell_id: str, command_id: str, stdin_input: str | bytes,
                           end: bool = False) -> None:
        self.send_message(msg.send(str(uuid.uuid4()), self.operation_timeout_sec, shell_id,
                                   command_id, stdin_input, end=end))

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        message_id = uuid.uuid4()
        res = self.send_message(msg.signal_terminate(str(message_id), self.operation_timeout_sec,
                                                     shell_id, command_id))
        _check_relates_to(res, message_id)

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        message_id = uuid.uuid4()
        try:
            res = self.send_message(msg.delete_shell(str(message_id), self.operation_timeout_sec, shell_id))
        finally:
            # As pywinrm: no connection goes back to the pool once the shell is done with.
            if close_session:
                self.transport.close_session()
        _check_relates_to(res, message_id)

    def get_command_output_raw(self, shell_id: str, command_id: str) -> tuple[bytes, bytes, int, bool]:
        res = self.send_message(msg.receive(str(uuid.uuid4()), self.operation_timeout_sec,
                                            shell_id, command_id))
        return parse_receive(res)


def parse_receive(res: bytes | str) -> tuple[bytes, bytes, int, bool]:
    """stdout, stderr, exit code (-1 while running) and whether the command is done, read
    as pywinrm reads them: every element named ``*Stream`` with text by its Name, done
    when exactly one element's State ends in ``CommandState/Done``, and then the first
    ``*ExitCode`` element's text (StopIteration when there is none, as there)."""
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


def _check_relates_to(res: bytes | str, message_id: uuid.UUID) -> None:
    relates_to = cast(str, next(node for node in _descendants(res) if node.tag.endswith("RelatesTo")).text)
    assert uuid.UUID(relates_to.replace("uuid:", "")) == message_id
