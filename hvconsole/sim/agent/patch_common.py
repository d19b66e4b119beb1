"""What every simulated patch script shares: parameter checks, run time, the printed answer.

**Parameters** are checked exactly as the shipped ``patch_*.ps1`` scripts check them (same
patterns, same messages, same defaults and clamps): paths are plain canonical paths under
``C:\\hvconsole\\``, task names ``^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$``, VM ids whatever
``[guid]::Parse`` takes. A bad parameter is a script-level failure,
``{"hvc_error": {"message", "where": "params"}}`` and exit 1, before anything is touched.

**Run time**: a script that waits (Save-VM jobs, Start-VM, a cluster drain) takes simulated
time. On a running clock its answer arrives after ``seconds / speed`` real seconds (times
the agent's ``latency_scale``), by which time the site has got there too. On a manual
clock the call *moves the clock* by its run time, so what the answer reports is already
true in the model when the caller reads it: a test drives a whole patch run by calling
scripts and advancing the clock, and never waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .collect import ps_json
from .host_agent import ScriptAnswer, ScriptFailure

if TYPE_CHECKING:
    from ..model.host import SimHost
    from ..model.vm import SimVM

# The scripts' own patterns (PowerShell's -match ignores case, hence re.I).
_HVC_PATH = re.compile(r"C:\\hvconsole(\\[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?)+", re.I)
_RESERVED = re.compile(r"\\(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.[^\\]*)?(\\|$)", re.I)
_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", re.I)
_PACKAGE_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,150}\.(msu|cab)", re.I)
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*", re.I)
_SHA256 = re.compile(r"[0-9A-Fa-f]{64}")
_HEX = "[0-9A-Fa-f]"
# [guid]::Parse formats D, N, B and P.
_GUID = re.compile(rf"(?P<d>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})|(?P<n>{_HEX}{{32}})"
                   rf"|\{{(?P<b>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})\}}"
                   rf"|\((?P<p>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})\)")
GUID_MESSAGE = "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."


def params_error(message: str) -> ScriptFailure:
    return ScriptFailure(message, "params")


def hvc_path(value: object, name: str) -> str:
    """Assert-HvcPath: a plain, canonical path under C:\\hvconsole\\ of at most 200 characters."""
    if (not isinstance(value, str) or len(value) > 200 or not _HVC_PATH.fullmatch(value) or ".." in value
            or _RESERVED.search(value)):
        raise params_error(f"{name} must be a plain path under C:\\hvconsole\\")
    return value


def task_name(value: object) -> str:
    if not isinstance(value, str) or not _TASK_NAME.fullmatch(value) or ".." in value:
        raise params_error("task_name must be 1-100 letters, digits, dots, dashes or underscores")
    return value


def package_file(value: object) -> str:
    if not isinstance(value, str) or not _PACKAGE_FILE.fullmatch(value) or ".." in value:
        raise params_error("package_file must be a plain .msu or .cab file name")
    return value


def sha256_param(value: object) -> str | None:
    """patch_stage_check's sha256: null or '' means "no expectation"."""
    if value is None or ps_string(value) == "":
        return None
    if not _SHA256.fullmatch(ps_string(value)):
        raise params_error("sha256 must be 64 hexadecimal digits")
    return ps_string(value).lower()


def host_name(value: object) -> str:
    text = ps_string(value)
    if len(text) > 253 or not _HOST_NAME.fullmatch(text):
        raise params_error("destination must be a host name")
    return text


def guid(value: object) -> str:
    """``[guid]::Parse([string]$x)``, printed the way ``.ToString()`` prints it."""
    match = _GUID.fullmatch(ps_string(value).strip())
    if match is None:
        raise params_error(GUID_MESSAGE)
    text = next(g for g in match.groups() if g).replace("-", "").lower()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def ps_string(value: object) -> str:
    """``[string]$x`` for what ConvertFrom-Json produces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def ps_int(value: object, name: str) -> int:
    """``[int]$x``: numbers round half to even, numeric strings parse, the rest fails."""
    if isinstance(value, bool):
        return int(value)
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or number != number or abs(number) > 2**31 - 1:
        raise params_error(f'Cannot convert value "{ps_string(value)[:40]}" to type "System.Int32". '
                           'Error: "Input string was not in a correct format."')
    return round(number)


def clamped_int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key)
    return default if value is None else min(high, max(low, ps_int(value, key)))


def is_true(value: object) -> bool:
    """``$x -eq $true`` (PowerShell converts the right side to the left side's type)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, (int, float)):
        return value != 0
    return False


def as_list(value: object) -> list[object]:
    """``@($x)``: a lone item becomes a list of one, null a list holding null."""
    return list(value) if isinstance(value, list) else [value]


def prop(item: object, key: str) -> object:
    """``$item.key`` on whatever the list held (null for a missing property)."""
    return item.get(key) if isinstance(item, Mapping) else None


def find_vm(host: SimHost, vm_id: str) -> SimVM | None:
    """Get-VM -Id on this host."""
    return next((vm for vm in host.vms if vm.id == vm_id), None)


def vmms_failure(host: SimHost, t: float) -> str | None:
    """The message of a Hyper-V cmdlet while vmms does not answer, or None."""
    problem = host.vm_query_problem(t)
    if problem == "vmms-starting":
        return (f"Hyper-V encountered an error trying to access an object on computer '{host.name}' because "
                "the object was not found. Verify that the Virtual Machine Management service on the "
                "computer is running.")
    if problem == "wedged":
        return f"The operation on computer '{host.name}' failed: The operation timed out."
    return None


def host_time(host: SimHost, t: float | None) -> str | None:
    return host.patch.host_time(t)


def finish(host: SimHost, doc: Mapping[str, Any], seconds: float) -> ScriptAnswer:
    """Print ``doc`` as PowerShell 5.1 would (``[Console]::Out.Write``, no newline), exit 0,
    after ``seconds`` of simulated time (a manual clock moves by that much)."""
    site = host.site
    assert site is not None
    seconds = max(0.0, seconds) * host.slow_factor
    clock = site.clock
    if clock.is_manual:
        clock.advance(seconds)
        site.advance()
        real = seconds
    else:
        real = seconds / clock.speed if clock.speed > 0 else seconds
    return ScriptAnswer(ps_json(doc).encode("utf-8"), b"", 0, real)
