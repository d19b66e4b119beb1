"""The simulated answer of ``probe.ps1`` (the connection test), registered with the host
agent under the script name ``probe``.

A real host answers with who the session runs as, whether it is elevated, whether the
Hyper-V PowerShell module is installed, the vmms service state and the OS build. The
simulated host answers the same from its model; what the model does not know (the
account's rights, the module) comes from a per-host :class:`ProbeProfile`, which tests
change with :func:`set_probe_profile` to play a non-administrator account, a host without
the module, or one without the Hyper-V role.
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

# Starting powershell.exe and reading a registry key, a service and the module list.
BASE_DURATION_S = 0.25


@dataclass(frozen=True, slots=True)
class ProbeProfile:
    """What the simulated host says about the connecting account and its Hyper-V tooling."""

    user: str | None = None          # None: "<HOST>\\demo", the demo site's local account
    is_admin: bool = True
    in_hyperv_admins: bool = True
    hyperv_module: bool = True
    hyperv_role: bool = True         # False: no vmms service at all


_PROFILES: weakref.WeakKeyDictionary[SimHost, ProbeProfile] = weakref.WeakKeyDictionary()


def set_probe_profile(host: SimHost, profile: ProbeProfile) -> None:
    _PROFILES[host] = profile


def probe_profile(host: SimHost) -> ProbeProfile:
    return _PROFILES.get(host, ProbeProfile())


def probe_document(host: SimHost, now: datetime) -> dict[str, Any]:
    """What ``probe.ps1`` prints on this host at ``now`` (host clock skew included)."""
    site = host.site
    assert site is not None, "a probed host belongs to a site"
    profile = probe_profile(host)
    host_now = site.time_of(site.t_of(now) + host.clock_skew_s)
    vmms = host.services(site.t_of(now))["vmms"] if profile.hyperv_role else None
    return {
        "probe_version": 1,
        "computer_name": host.name.upper(),
        "user": profile.user or f"{host.name.upper()}\\demo",
        "ps_version": f"5.1.{host.build}.{host.ubr}",
        "ps_edition": "Desktop",
        "is_admin": profile.is_admin,
        "in_hyperv_admins": profile.in_hyperv_admins or profile.is_admin,
        "hyperv_module": profile.hyperv_module,
        "hyperv_module_version": "2.0.0.0" if profile.hyperv_module else None,
        "vmms": vmms,
        "os": {"product": host.product, "build": host.build, "ubr": host.ubr,
               "display_version": host.display_version},
        "host_time": host_now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{host_now.microsecond // 1000:03d}Z",
        "checks_failed": [],
    }


def handle_probe(host: SimHost, params: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """The registered handler for ``probe.ps1`` (it takes no parameters)."""
    doc = probe_document(host, now)
    return ScriptAnswer(stdout=(ps_json(doc) + "\r\n").encode("utf-8"), stderr=b"", exit_code=0,
                        duration_s=BASE_DURATION_S * host.slow_factor)


register_script_handler("probe", handle_probe)
