"""The simulated site's model in one import: site, hosts, VMs, events, load curves.

The parts live in ``model_site`` (timeline), ``model_host``, ``model_vm``, ``model_events``
and ``model_load``; ``model_collect`` is what the collection script reports of them.
"""

from __future__ import annotations

from .model_events import CATALOG, EventKind, EventLog, SimEvent
from .model_host import Cluster, PendingUpdate, SimHost
from .model_load import IDLE, LoadProfile
from .model_site import SimSite
from .model_vm import SimVM

__all__ = ["CATALOG", "IDLE", "Cluster", "EventKind", "EventLog", "LoadProfile", "PendingUpdate",
           "SimEvent", "SimHost", "SimSite", "SimVM"]
