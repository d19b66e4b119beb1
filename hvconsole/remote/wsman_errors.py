"""The WinRM client's own exceptions: pywinrm 0.5's (``winrm.exceptions``), same names,
hierarchy, attributes and texts.

Why our own: any ``import winrm.<x>`` runs pywinrm's ``__init__``, which imports its
transport and with it every auth stack it carries (requests_ntlm and pyspnego, the
vendored requests_kerberos, requests_credssp, ``cryptography.x509``). A host on Basic auth
(``plaintext``, ``ssl``) needs none of them, so the client's import path must not touch
``winrm`` at all (docs/architecture.md, "The WinRM client's layers"). The NTLM, Kerberos
and CredSSP paths still run pywinrm's code, which raises pywinrm's classes; the error
classification (``errors.py``) recognises both.
"""

from __future__ import annotations


class WinRMError(Exception):
    """Generic WinRM error."""

    code = 500


class WSManFaultError(WinRMError):
    """A WS-Management fault answer, with the fault's details parsed from it (see
    pywinrm's class of the same name for each field)."""

    def __init__(self, code: int, message: str, response: str, reason: str,
                 fault_code: str | None = None, fault_subcode: str | None = None,
                 wsman_fault_code: int | None = None, wmierror_code: int | None = None) -> None:
        self.code = code
        self.response = response
        self.fault_code = fault_code
        self.fault_subcode = fault_subcode
        self.reason = reason
        self.wsman_fault_code = wsman_fault_code
        self.wmierror_code = wmierror_code
        # pywinrm's text, the dict repr included (messages and logs read the same).
        fault_data: dict[str, object] = {"transport_message": message, "http_status_code": code}
        if wsman_fault_code is not None:
            fault_data["wsmanfault_code"] = wsman_fault_code
        if fault_code is not None:
            fault_data["fault_code"] = fault_code
        if fault_subcode is not None:
            fault_data["fault_subcode"] = fault_subcode
        super().__init__(f"{reason} (extended fault data: {fault_data})")


class WinRMTransportError(Exception):
    """An unexpected HTTP answer: ``("http", status, response_text)``."""

    @property
    def protocol(self) -> str:
        return self.args[0]

    @property
    def code(self) -> int:
        return self.args[1]

    @property
    def message(self) -> str:
        return f"Bad HTTP response returned from server. Code {self.code}"

    @property
    def response_text(self) -> str:
        return self.args[2]

    def __str__(self) -> str:
        return self.message


class WinRMOperationTimeoutError(Exception):
    """The host's operation timeout (a Receive with nothing new): retried by the caller."""

    code = 500


class AuthenticationError(WinRMError):
    """Authorization error."""

    code = 401


class BasicAuthDisabledError(AuthenticationError):
    message = "WinRM/HTTP Basic authentication is not enabled on remote host"


class InvalidCredentialsError(AuthenticationError):
    pass
