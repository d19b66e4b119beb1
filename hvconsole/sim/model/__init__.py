"""The simulated site's model in one import: site, hosts, VMs, events, load curves.

The parts live in ``site`` (timeline), ``host``, ``vm``, ``events`` and ``load``;
``sim.agent.collect`` is what the collection script reports of them.
"""

from __future__ import annotations

from .events import CATALOG, EventKind, EventLog, SimEvent
from .host import Cluster, PendingUpdate, SimHost
from .load import IDLE, LoadProfile
from .site import SimSite
from .vm import SimVM

__all__ = ["CATALOG", "IDLE", "Cluster", "EventKind", "EventLog", "LoadProfile", "PendingUpdate",
           "SimEvent", "SimHost", "SimSite", "SimVM"]
