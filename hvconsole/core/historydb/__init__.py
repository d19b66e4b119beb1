"""Persistent, downsampled history of what the pollers saw (issue 16), in one SQLite file.

Full resolution for the last hour, 1-minute min/mean/max for 7 days, 15-minute for 90
days, per host resource and per VM, plus findings, VM state changes and patch/recovery
events as annotations. Qt-free: the window, the agent and ``hvconsole history`` share it.

* :class:`HistoryWriter`: a background thread that writes batches (``writer.py``).
* :class:`HistoryReader`: a range of one host's or VM's series at the resolution the
  range is drawn at, and the markers in it (``reader.py``).
* ``schema.py``: the file, its tables and tiers; ``codec.py``: the chunk BLOBs;
  ``ingest.py``: snapshots to chunks, aggregation and retention.

The file lives next to the patch journal: ``history.sqlite`` in the data folder (the
demo's in its ``demo/`` folder, so simulated hosts never mix with real ones).
"""

from __future__ import annotations

from pathlib import Path

from .ingest import Annotation
from .reader import HistoryReader, Marker, SeriesInfo, SeriesRange, tier_for
from .schema import FILE_NAME, MINUTE, QUARTER, RAW, TIERS, HistoryDbError, Tier, disk_bytes
from .writer import HistoryWriter

# What the store costs on disk, measured by benchmarks/history.py (docs/history-and-prometheus.md):
# per VM for 90 days of history, with the host's share added per host.
BUDGET_BYTES_PER_VM = 300 * 1024
BUDGET_BYTES_PER_HOST = 2 * 1024 * 1024


def budget_bytes(hosts: int, vms: int) -> int:
    """The stated disk budget of a site's full 90-day history."""
    return hosts * BUDGET_BYTES_PER_HOST + vms * BUDGET_BYTES_PER_VM


def history_file(folder: Path) -> Path:
    """The history file in a data folder."""
    return Path(folder) / FILE_NAME


__all__ = ["Annotation", "HistoryReader", "HistoryWriter", "Marker", "SeriesInfo", "SeriesRange",
           "tier_for", "FILE_NAME", "MINUTE", "QUARTER", "RAW", "TIERS", "Tier", "HistoryDbError",
           "disk_bytes", "budget_bytes", "history_file", "BUDGET_BYTES_PER_VM", "BUDGET_BYTES_PER_HOST"]
