"""The patching rules' input: the host's compliance with every update of the catalog,
decided from its latest snapshot (``core.compliance``: the running build is the proof)."""

from __future__ import annotations

from collections.abc import Iterable

from ..catalog import CatalogUpdate
from ..compliance import Compliance, assess
from ..snapshot import Snapshot


def compliance_for(host: str, snap: Snapshot | None, updates: Iterable[CatalogUpdate]) -> tuple[Compliance, ...]:
    return tuple(assess(host, snap, update) for update in updates)
