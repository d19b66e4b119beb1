"""The WS-Management faults a Windows host sends, with its own codes and texts.

Codes are the ``WSManFault Code`` values from wsmerror.h (pywinrm 0.5 exposes them as
``WSManFaultError.wsman_fault_code``). The texts are Windows' own, including the trailing
space its message table leaves; the timeout, bad-command-id and invalid-parameter faults are
copied from the captures, the others from Windows' message table and published faults.
"""

from __future__ import annotations

from .replies import FaultSpec

ERROR_WSMAN_OPERATION_TIMEDOUT = 2150858793
ERROR_WSMAN_UNEXPECTED_SELECTORS = 2150858843      # unknown ShellId or CommandId
ERROR_WSMAN_QUOTA_MAX_SHELLS = 2150859173
ERROR_WSMAN_QUOTA_MAX_OPERATIONS = 2150859174
ERROR_WSMAN_ACTION_NOT_SUPPORTED = 2150858771
ERROR_WSMAN_PROVIDER_FAILURE = 2150858755
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_PARAMETER = 87

_FAULT_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail"
_INVALID_SELECTORS_REASON = (
    "The WS-Management service cannot process the request because the request contained "
    "invalid selectors for the resource. "
)


def operation_timeout() -> FaultSpec:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return FaultSpec("s:Receiver", "w:TimedOut", text, ERROR_WSMAN_OPERATION_TIMEDOUT, text)


def shell_not_found(shell_id: str) -> FaultSpec:
    return FaultSpec(
        "s:Sender", "w:InvalidSelectors", _INVALID_SELECTORS_REASON, ERROR_WSMAN_UNEXPECTED_SELECTORS,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
        "was not found on the server. Possible causes are: the specified ShellId is incorrect or the "
        "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
        "retry the operation. ",
        fault_detail=f"{_FAULT_DETAIL}/UnexpectedSelectors",
    )


def command_not_found() -> FaultSpec:
    return FaultSpec(
        "s:Sender", "w:InvalidSelectors", _INVALID_SELECTORS_REASON, ERROR_WSMAN_UNEXPECTED_SELECTORS,
        "The Windows Remote Shell received a request to perform an operation on a command identifier "
        "that does not exist. Either the command has completed execution or the client specified an "
        "invalid command identifier. ",
        fault_detail=f"{_FAULT_DETAIL}/UnexpectedSelectors",
    )


def invalid_parameter() -> FaultSpec:
    """What the shell plugin answers to a Receive that names no command (capture: fail poll)."""
    text = "The parameter is incorrect. "
    return FaultSpec(
        "s:Sender", "w:InvalidParameter", text, ERROR_INVALID_PARAMETER, text,
        fault_detail=f"{_FAULT_DETAIL}/InvalidValue",
        provider=("Shell cmd plugin", r"%systemroot%\system32\winrscmd.dll"),
    )


def quota_shells(limit: int) -> FaultSpec:
    return FaultSpec(
        "s:Sender", "w:QuotaLimit",
        "The WS-Management service cannot process the request. The maximum number of concurrent "
        "shells for this user has been exceeded. Close existing shells or raise the quota for this user. ",
        ERROR_WSMAN_QUOTA_MAX_SHELLS,
        f"The WS-Management service cannot process the request. This user is allowed a maximum number "
        f"of {limit} concurrent shells, which has been exceeded. Close existing shells or raise the "
        "quota for this user. ",
    )


def quota_operations(limit: int) -> FaultSpec:
    return FaultSpec(
        "s:Sender", "w:QuotaLimit",
        "The WS-Management service cannot process the request. The maximum number of concurrent "
        "operations for this user has been exceeded. Close existing operations for this user, or "
        "raise the quota for this user. ",
        ERROR_WSMAN_QUOTA_MAX_OPERATIONS,
        f"The WS-Management service cannot process the request. This user is allowed a maximum number "
        f"of {limit} concurrent operations, which has been exceeded. Close existing operations for "
        "this user, or raise the quota for this user. ",
    )


def access_denied() -> FaultSpec:
    text = "Access is denied. "
    return FaultSpec("s:Sender", "w:AccessDenied", text, ERROR_ACCESS_DENIED, text)


def encryption_required() -> FaultSpec:
    """A host whose service refuses unencrypted traffic (AllowUnencrypted=false).

    Windows reports this condition as error 5 with the text below; a client tells it apart
    from a plain access denial by the text, not by the code.
    """
    text = (
        "The WinRM client cannot process the request. The authentication mechanism requested by the "
        "client is not supported by the server or unencrypted traffic is disabled in the service "
        "configuration. Verify the unencrypted traffic setting in the service configuration or specify "
        "one of the authentication mechanisms supported by the server. "
    )
    return FaultSpec("s:Sender", "w:AccessDenied", "Access is denied. ", ERROR_ACCESS_DENIED, text)


def action_not_supported() -> FaultSpec:
    text = "The WS-Management service does not support the action specified in the request. "
    return FaultSpec("s:Sender", "a:ActionNotSupported", text, ERROR_WSMAN_ACTION_NOT_SUPPORTED, text)


def provider_failure() -> FaultSpec:
    """The shell plugin failed (here: the process runner raised)."""
    text = "An error was encountered inside the plugin. "
    return FaultSpec("s:Receiver", "w:InternalError", text, ERROR_WSMAN_PROVIDER_FAILURE, text)
