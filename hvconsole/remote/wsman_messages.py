"""The WS-Management shell messages, built from prepared text instead of a dict per request.

pywinrm's ``Protocol`` builds each request as a nested dict and serialises it with
``xmltodict.unparse`` (a SAX generator, one Python call per element and attribute): about
a third of a poll worker's CPU at 50 hosts. The envelopes never change shape, so here they
are fixed text with only the varying fields filled in (message id, operation timeout,
shell and command ids, the command line, stdin, environment). Each field is escaped exactly
as ``xmltodict.unparse`` escapes it (``xml.sax.saxutils.escape`` for text,
``quoteattr`` for attributes), so every request is byte for byte what pywinrm 0.5 sends
(tests/remote/test_wsman_messages.py compares them over every message kind).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

from hvconsole.core.guid import random_guid

_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_CMD_RESOURCE = _SHELL_URI + "/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = _SHELL_URI + "/Command"
ACTION_SEND = _SHELL_URI + "/Send"
ACTION_RECEIVE = _SHELL_URI + "/Receive"
ACTION_SIGNAL = _SHELL_URI + "/Signal"
SIGNAL_TERMINATE = _SHELL_URI + "/signal/terminate"

# Everything before the message id: the XML declaration, the envelope with pywinrm's
# namespace declarations (in its order) and the fixed header elements.
_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"'
    ' xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"'
    ' xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"'
    ' xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
    ' xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"'
    f' xmlns:rsp="{_SHELL_URI}"'
    ' xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
    '<env:Header><a:To>http://windows-host:5985/wsman</a:To>'
    '<a:ReplyTo><a:Address mustUnderstand="true">'
    'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>'
    '<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'
    '<a:MessageID>uuid:'
)
# Between the message id and the operation timeout's seconds.
_AFTER_ID = (
    '</a:MessageID><w:Locale mustUnderstand="false" xml:lang="en-US"></w:Locale>'
    '<p:DataLocale mustUnderstand="false" xml:lang="en-US"></p:DataLocale>'
    '<w:OperationTimeout>PT'
)
# After the seconds, one per action: the resource URI and the action.
_ACTION = {
    action: (f'S</w:OperationTimeout><w:ResourceURI mustUnderstand="true">{_CMD_RESOURCE}'
             f'</w:ResourceURI><a:Action mustUnderstand="true">{action}</a:Action>')
    for action in (ACTION_CREATE, ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE,
                   ACTION_SIGNAL)
}
_SELECTOR = '<w:SelectorSet><w:Selector Name="ShellId">'
_SELECTOR_END = '</w:Selector></w:SelectorSet>'
_TAIL = '</env:Body></env:Envelope>'


# A MessageID's UUID text: what ``str(uuid.uuid4())`` gives, without building a ``uuid.UUID``.
new_message_id = random_guid


def _header(action: str, message_id: str, operation_timeout_s: int, shell_id: str | None) -> str:
    """The envelope up to and including the header's fixed elements and the shell
    selector, left open for an OptionSet. ``message_id``: a UUID's text."""
    head = f"{_HEAD}{escape(message_id)}{_AFTER_ID}{int(operation_timeout_s)}{_ACTION[action]}"
    if shell_id:
        head = f"{head}{_SELECTOR}{escape(shell_id)}{_SELECTOR_END}"
    return head


def _option(name: str, value: str) -> str:
    return f'<w:Option Name="{name}">{escape(value)}</w:Option>'


def create_shell(message_id: str, operation_timeout_s: int, *, i_stream: str = "stdin",
                 o_stream: str = "stdout stderr", working_directory: str | None = None,
                 env_vars: Mapping[str, str] | None = None, noprofile: bool = False,
                 codepage: int = 437, idle_timeout: str | int | None = None) -> str:
    """Create (``Protocol.open_shell``)."""
    parts = [
        _header(ACTION_CREATE, message_id, operation_timeout_s, None),
        "<w:OptionSet>", _option("WINRS_NOPROFILE", str(noprofile).upper()),
        _option("WINRS_CODEPAGE", str(codepage)), "</w:OptionSet></env:Header><env:Body><rsp:Shell>",
        f"<rsp:InputStreams>{escape(i_stream)}</rsp:InputStreams>",
        f"<rsp:OutputStreams>{escape(o_stream)}</rsp:OutputStreams>",
    ]
    if working_directory:
        parts.append(f"<rsp:WorkingDirectory>{escape(working_directory)}</rsp:WorkingDirectory>")
    if idle_timeout:
        parts.append(f"<rsp:IdleTimeOut>{escape(str(idle_timeout))}</rsp:IdleTimeOut>")
    if env_vars:
        parts.append("<rsp:Environment>")
        parts.extend(f"<rsp:Variable Name={quoteattr(name)}>{escape(value)}</rsp:Variable>"
                     for name, value in env_vars.items())
        parts.append("</rsp:Environment>")
    parts.append("</rsp:Shell>")
    parts.append(_TAIL)
    return "".join(parts)


def command(message_id: str, operation_timeout_s: int, shell_id: str, command_line: str,
            arguments: Iterable[str | bytes] = (), *, console_mode_stdin: bool = True,
            skip_cmd_shell: bool = False) -> str:
    """Command (``Protocol.run_command``): arguments are joined by spaces, as there."""
    text = (f"{_header(ACTION_COMMAND, message_id, operation_timeout_s, shell_id)}<w:OptionSet>"
            f"{_option('WINRS_CONSOLEMODE_STDIN', str(console_mode_stdin).upper())}"
            f"{_option('WINRS_SKIP_CMD_SHELL', str(skip_cmd_shell).upper())}</w:OptionSet>"
            f"</env:Header><env:Body><rsp:CommandLine><rsp:Command>{escape(command_line)}</rsp:Command>")
    if arguments:
        joined = " ".join(a if isinstance(a, str) else a.decode("utf-8") for a in arguments)
        text = f"{text}<rsp:Arguments>{escape(joined)}</rsp:Arguments>"
    return f"{text}</rsp:CommandLine>{_TAIL}"


def send(message_id: str, operation_timeout_s: int, shell_id: str, command_id: str,
         stdin: str | bytes, *, end: bool = False) -> str:
    """Send (``Protocol.send_command_input``): text stdin goes as code page 437, as there."""
    if isinstance(stdin, str):
        stdin = stdin.encode("437")
    body = base64.b64encode(stdin).decode("ascii")
    return (f"{_header(ACTION_SEND, message_id, operation_timeout_s, shell_id)}</env:Header>"
            f"<env:Body><rsp:Send><rsp:Stream CommandId={quoteattr(command_id)} Name=\"stdin\""
            f" End=\"{'true' if end else 'false'}\" xmlns:rsp=\"{_SHELL_URI}\">{body}</rsp:Stream>"
            f"</rsp:Send>{_TAIL}")


def receive(message_id: str, operation_timeout_s: int, shell_id: str, command_id: str) -> str:
    """Receive (``Protocol.get_command_output_raw``)."""
    return (f"{_header(ACTION_RECEIVE, message_id, operation_timeout_s, shell_id)}</env:Header>"
            f"<env:Body><rsp:Receive><rsp:DesiredStream CommandId={quoteattr(command_id)}>"
            f"stdout stderr</rsp:DesiredStream></rsp:Receive>{_TAIL}")


def signal_terminate(message_id: str, operation_timeout_s: int, shell_id: str, command_id: str) -> str:
    """Signal terminate (``Protocol.cleanup_command``)."""
    return (f"{_header(ACTION_SIGNAL, message_id, operation_timeout_s, shell_id)}</env:Header>"
            f"<env:Body><rsp:Signal CommandId={quoteattr(command_id)}><rsp:Code>{SIGNAL_TERMINATE}"
            f"</rsp:Code></rsp:Signal>{_TAIL}")


def delete_shell(message_id: str, operation_timeout_s: int, shell_id: str) -> str:
    """Delete (``Protocol.close_shell``): an empty body."""
    return f"{_header(ACTION_DELETE, message_id, operation_timeout_s, shell_id)}</env:Header><env:Body>{_TAIL}"
