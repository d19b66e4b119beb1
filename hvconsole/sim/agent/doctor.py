"""The simulated answer of ``doctor.ps1`` (``hvconsole doctor``'s host-side facts),
registered with the host agent under the script name ``doctor``.

A real host answers with its PowerShell language mode, its WinRM shell quotas
(``WSMan:\\localhost\\Shell``), its clock and its system drive. The simulated host answers
the clock (its skew included) and the system drive from its model; what the model does not
know (language mode, quotas) comes from a per-host :class:`DoctorProfile`, which tests
change with :func:`set_doctor_profile` to play a locked-down or tightly quota'd host.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model.host import SimHost
from .collect import ps_json
from .host_agent import ScriptAnswer, register_script_handler
from .probe import probe_profile

# Starting powershell.exe, reading the WSMan: drive and one CIM instance.
BASE_DURATION_S = 0.3
SYSTEM_DRIVE_SIZE_MB = 152_576      # a 150 GB system volume


@dataclass(frozen=True, slots=True)
class DoctorProfile:
    """What the simulated host says about its PowerShell and WinRM configuration: what real
    hosts show by default (MaxShellsPerUser 30, IdleTimeout 7,200,000 ms; the others as
    ``winrm get winrm/config/winrs`` prints them on Windows Server 2016 and later [U])
    unless a test says otherwise."""

    language_mode: str = "FullLanguage"
    max_shells_per_user: int | None = 30
    idle_timeout_ms: int | None = 7_200_000
    max_concurrent_users: int | None = 10
    max_processes_per_shell: int | None = 25
    max_memory_per_shell_mb: int | None = 2048
    max_concurrent_operations_per_user: int | None = 1500


_PROFILES: weakref.WeakKeyDictionary[SimHost, DoctorProfile] = weakref.WeakKeyDictionary()


def set_doctor_profile(host: SimHost, profile: DoctorProfile) -> None:
    _PROFILES[host] = profile


def doctor_profile(host: SimHost) -> DoctorProfile:
    return _PROFILES.get(host, DoctorProfile())


def doctor_document(host: SimHost, now: datetime) -> dict[str, Any]:
    """What ``doctor.ps1`` prints on this host at ``now`` (host clock skew included)."""
    site = host.site
    assert site is not None, "a simulated host belongs to a site"
    t = site.t_of(now)
    profile = doctor_profile(host)
    host_now = site.time_of(t + host.clock_skew_s)
    admin = probe_profile(host).is_admin
    # The WSMan: drive is readable by administrators only (as on Windows): a standard
    # user's read fails and the quotas are unknown.
    quotas = {k: getattr(profile, k) for k in ("max_shells_per_user", "idle_timeout_ms", "max_concurrent_users",
                                               "max_processes_per_shell", "max_memory_per_shell_mb",
                                               "max_concurrent_operations_per_user")}
    failed = [] if admin else [f"winrm.{k}" for k in quotas]
    # The same slowly shrinking figure collect.ps1's answer reports (SimHost.resources).
    free_mb = int(host.system_drive_free_mb - t / 3600.0 * 4.0)
    return {
        "doctor_version": 1,
        "host_time": host_now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{host_now.microsecond // 1000:03d}Z",
        "ps_version": f"5.1.{host.build}.{host.ubr}",
        "language_mode": profile.language_mode,
        "winrm": quotas if admin else {k: None for k in quotas},
        "system_drive": {"name": "C:", "free_mb": free_mb, "size_mb": max(SYSTEM_DRIVE_SIZE_MB, free_mb)},
        "checks_failed": failed,
    }


def handle_doctor(host: SimHost, params: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """The registered handler for ``doctor.ps1`` (it takes no parameters)."""
    return ScriptAnswer(stdout=(ps_json(doctor_document(host, now)) + "\r\n").encode("utf-8"), stderr=b"",
                        exit_code=0, duration_s=BASE_DURATION_S * host.slow_factor)


register_script_handler("doctor", handle_doctor)
