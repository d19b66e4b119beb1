"""pywinrm's ``Protocol`` with its shell requests built from prepared text.

Same methods, same wire format, same answers and exceptions as ``winrm.Protocol`` 0.5;
only cheaper per request: the envelopes come from :mod:`.wsman_messages` instead of
``xmltodict.unparse``, and the answers are read by :mod:`.wsman_replies` (the usual ones
without building an ElementTree).
Settings and fault handling (``send_message``) are pywinrm's, as :mod:`.wsman_protocol`
has them without importing pywinrm (the exceptions are :mod:`.wsman_errors`').
"""

from __future__ import annotations

from collections.abc import Iterable

from . import wsman_messages as msg
from . import wsman_replies as replies
from .wsman_protocol import WsmanProtocol


class TemplatedProtocol(WsmanProtocol):
    """``winrm.Protocol``'s shell operations, sending prepared envelopes."""

    def open_shell(self, i_stream: str = "stdin", o_stream: str = "stdout stderr",
                   working_directory: str | None = None, env_vars: dict[str, str] | None = None,
                   noprofile: bool = False, codepage: int = 437, lifetime: None = None,
                   idle_timeout: str | int | None = None) -> str:
        res = self.send_message(msg.create_shell(
            msg.new_message_id(), self.operation_timeout_sec, i_stream=i_stream, o_stream=o_stream,
            working_directory=working_directory, env_vars=env_vars, noprofile=noprofile,
            codepage=codepage, idle_timeout=idle_timeout))
        return replies.shell_id(res)

    def run_command(self, shell_id: str, command: str, arguments: Iterable[str | bytes] = (),
                    console_mode_stdin: bool = True, skip_cmd_shell: bool = False) -> str:
        res = self.send_message(msg.command(
            msg.new_message_id(), self.operation_timeout_sec, shell_id, command, arguments,
            console_mode_stdin=console_mode_stdin, skip_cmd_shell=skip_cmd_shell))
        return replies.command_id(res)

    def send_command_input(self, shell_id: str, command_id: str, stdin_input: str | bytes,
                           end: bool = False) -> None:
        self.send_message(msg.send(msg.new_message_id(), self.operation_timeout_sec, shell_id,
                                   command_id, stdin_input, end=end))

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        message_id = msg.new_message_id()
        res = self.send_message(msg.signal_terminate(message_id, self.operation_timeout_sec,
                                                     shell_id, command_id))
        replies.check_relates_to(res, message_id)

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        message_id = msg.new_message_id()
        try:
            res = self.send_message(msg.delete_shell(message_id, self.operation_timeout_sec, shell_id))
        finally:
            # As pywinrm: no connection goes back to the pool once the shell is done with.
            if close_session:
                self.transport.close_session()
        replies.check_relates_to(res, message_id)

    def get_command_output_raw(self, shell_id: str, command_id: str) -> tuple[bytes, bytes, int, bool]:
        res = self.send_message(msg.receive(msg.new_message_id(), self.operation_timeout_sec,
                                            shell_id, command_id))
        return replies.receive_output(res)

