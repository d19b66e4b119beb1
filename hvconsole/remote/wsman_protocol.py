"""The WS-Management protocol's base: pywinrm 0.5's ``winrm.protocol.Protocol`` without
pywinrm (same constructor, timeouts, and ``send_message`` with the same fault handling).

The shell operations themselves are :class:`.shell_protocol.TemplatedProtocol`'s; what
this base adds is what they inherited from pywinrm: the settings and the turning of an
HTTP error answer into the exception the callers act on (a WS-Management fault, the
host's operation timeout, or the HTTP error as it is). See ``wsman_transport.py`` for why
pywinrm is not imported here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .errors import WSMAN_OPERATION_TIMEOUT
from .wsman_errors import WinRMError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
from .wsman_transport import WsmanTransport

_NS = {
    "soapenv": "http://www.w3.org/2003/05/soap-envelope",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wmierror": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError",
}


class WsmanProtocol:
    """``winrm.Protocol``'s settings and message sending, over :class:`WsmanTransport`."""

    DEFAULT_READ_TIMEOUT_SEC = 30
    DEFAULT_OPERATION_TIMEOUT_SEC = 20

    def __init__(self, endpoint: str, transport: str = "plaintext", username: str | None = None,
                 password: str | None = None, realm: None = None, service: str = "HTTP", keytab: None = None,
                 ca_trust_path: str | None = "legacy_requests", cert_pem: str | None = None,
                 cert_key_pem: str | None = None, server_cert_validation: str | None = "validate",
                 kerberos_delegation: bool = False, read_timeout_sec: str | int = DEFAULT_READ_TIMEOUT_SEC,
                 operation_timeout_sec: str | int = DEFAULT_OPERATION_TIMEOUT_SEC,
                 kerberos_hostname_override: str | None = None, message_encryption: str = "auto",
                 credssp_disable_tlsv1_2: bool = False, send_cbt: bool = True,
                 proxy: str | None = "legacy_requests", *,
                 with_transport: WsmanTransport | None = None) -> None:
        """pywinrm's settings, or ``with_transport``: one built already (the session's bounded
        one), which then holds the connection settings and the others are not used."""
        try:
            read_timeout_sec = int(read_timeout_sec)
        except ValueError as ve:
            raise ValueError(f"failed to parse read_timeout_sec as int: {ve}") from ve
        try:
            operation_timeout_sec = int(operation_timeout_sec)
        except ValueError as ve:
            raise ValueError(f"failed to parse operation_timeout_sec as int: {ve}") from ve
        if operation_timeout_sec >= read_timeout_sec or operation_timeout_sec < 1:
            raise WinRMError("read_timeout_sec must exceed operation_timeout_sec, and both must be non-zero")
        self.read_timeout_sec = read_timeout_sec
        self.operation_timeout_sec = operation_timeout_sec
        if with_transport is not None:
            self.transport = with_transport
            return
        self.transport = WsmanTransport(
            endpoint=endpoint, username=username, password=password, realm=realm, service=service,
            keytab=keytab, ca_trust_path=ca_trust_path, cert_pem=cert_pem, cert_key_pem=cert_key_pem,
            read_timeout_sec=read_timeout_sec, server_cert_validation=server_cert_validation,
            kerberos_delegation=kerberos_delegation, kerberos_hostname_override=kerberos_hostname_override,
            auth_method=transport, message_encryption=message_encryption,
            credssp_disable_tlsv1_2=credssp_disable_tlsv1_2, send_cbt=send_cbt, proxy=proxy)

    def send_message(self, message: str | bytes) -> bytes:
        """The answer to ``message``; an HTTP error answer that is a SOAP fault raises
        :class:`WSManFaultError` (or :class:`WinRMOperationTimeoutError` for the host's
        operation timeout), any other raises the transport's error as it is."""
        try:
            return self.transport.send_message(message)
        except WinRMTransportError as ex:
            try:
                root = ET.fromstring(ex.response_text)
            except Exception:
                raise ex from None     # not XML: some other HTTP error, as it is
            fault = root.find("soapenv:Body/soapenv:Fault", _NS)
            if fault is None:
                raise
            raise _fault_error(ex, fault) from None


def _fault_error(ex: WinRMTransportError, fault: ET.Element) -> Exception:
    """pywinrm's reading of a SOAP fault, field by field."""
    wsman_code: int | None = None
    code_node = fault.find("soapenv:Detail/wsmanfault:WSManFault[@Code]", _NS)
    if code_node is not None:
        wsman_code = int(code_node.attrib["Code"])
        if wsman_code == WSMAN_OPERATION_TIMEOUT:
            return WinRMOperationTimeoutError()
    fault_code = _text(fault, "soapenv:Code/soapenv:Value")
    fault_subcode = _text(fault, "soapenv:Code/soapenv:Subcode/soapenv:Value")
    reason_node = fault.find("soapenv:Reason/soapenv:Text", _NS)
    reason = reason_node.text if reason_node is not None else None
    wmi_text = _text(fault, "wmierror:MSFT_WmiError/wmierror:error_Code", detail=True)
    return WSManFaultError(code=ex.code, message=ex.message, response=ex.response_text,
                           reason=reason or "(no error message in fault)", fault_code=fault_code,
                           fault_subcode=fault_subcode, wsman_fault_code=wsman_code,
                           wmierror_code=int(wmi_text) if wmi_text else None)


def _text(fault: ET.Element, path: str, *, detail: bool = False) -> str | None:
    node = fault.find(f"soapenv:Detail/{path}" if detail else path, _NS)
    return node.text if node is not None and node.text else None
