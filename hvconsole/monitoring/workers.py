"""One poll worker per host of a site, built the same way for the window and the agent."""

from __future__ import annotations

from typing import Any

from hvconsole.core.poll_budget import DEFAULT_POLL_TIMEOUT_S

from .host_compliance import CatalogSource
from .host_worker import HostWorker, worker_for_target
from .maintenance_feed import MaintenanceFeed
from .schedule import DEFAULT_INTERVAL_S


def site_workers(site: Any, *, poll_interval_s: float = DEFAULT_INTERVAL_S,
                 timeout_s: float = DEFAULT_POLL_TIMEOUT_S, catalog: Any = None) -> list[HostWorker]:
    """One :class:`HostWorker` per host of ``site`` (a :class:`hvconsole.site.Site`), with the
    real client stack. ``polled_at`` follows the site's clock (the simulated one for the demo,
    so the freeze detector runs in simulated time). The workers share one maintenance feed
    (hosts being patched) and one catalog (the Compliance column; by default the site
    catalog, read once by the first worker that needs it). A host's own interval (the
    inventory's) wins over ``poll_interval_s``."""
    feed, catalog = MaintenanceFeed(), catalog or CatalogSource()
    # The history spaces its samples in the hosts' time: a demo clock running N times
    # faster puts N × the interval between two polls (else every poll looks like a gap).
    scale = site.speed if site.clock is not None else 1.0
    intervals: dict[str, float] = {}
    if getattr(site, "book", None) is not None:
        # Only an inventory has hosts' own intervals; its reader brings the keyring's stack,
        # which the demo (no inventory) never imports.
        from hvconsole.remote.configured import host_poll_intervals
        intervals = host_poll_intervals(site)
    return [worker_for_target(target, timeout_s=timeout_s,
                              poll_interval_s=intervals.get(target.name, poll_interval_s) * scale,
                              clock=site.clock, maintenance=feed, catalog=catalog,
                              scheduled_interval_s=intervals.get(target.name))
            for target in site.targets]
