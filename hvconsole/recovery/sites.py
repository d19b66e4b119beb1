"""A recovery engine for one VM of a site (``hvconsole.site.Site``: configured or demo):
its target, clock and speed, and the recovery journal beside the site's patch journal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.patch.sites import SiteError
from hvconsole.remote.session import HostSession

from .engine import Progress, RecoveryEngine, RecoverySite, journal_for
from .host_api import SCRIPTS, RecoveryHost


def engine_for(site: RecoverySite, host: str, vm_id: str, *, vm_name: str | None = None,
               finding: Mapping[str, Any] | None = None, maintenance: MaintenanceRegistry | None = None,
               progress: Progress | None = None, finding_open: Callable[[], bool] | None = None) -> RecoveryEngine:
    target = site.target(host)
    if target is None:
        raise SiteError(f"{host!r} is not one of this site's hosts ({', '.join(site.names()) or 'none'})")
    session = HostSession(target, scripts=SCRIPTS, operation_timeout_s=20)
    speed = float(getattr(site, "speed", 1.0) or 1.0)
    api = RecoveryHost(target.name, session, speed=speed)
    return RecoveryEngine(journal_for(site), api, vm_id, vm_name=vm_name, finding=finding, speed=speed,
                          maintenance=maintenance, progress=progress, clock=getattr(site, "clock", None),
                          finding_open=finding_open)
