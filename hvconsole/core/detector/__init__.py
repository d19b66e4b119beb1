"""The freeze detector: which VMs and hosts are frozen, since when, and why we think so.

Single signals lie (a booting VM has no heartbeat, an idle VM sits at 0 % CPU), so the
rules combine signals over time and every finding carries its evidence. Pure Python: no
Qt, no I/O, no wall clock. See docs/freeze-detection.md for the rules and thresholds.

    d = Detector(thresholds, maintenance)
    for snap in snapshots:          # live: one per poll as it arrives
        changed = d.feed(snap)      # findings that appeared, changed or ended
    d.active(); d.all(); d.document()   # findings-v1
    detect(snapshots)               # replay: the same code, all findings
"""

from .engine import Detector, detect
from .findings import CRITICAL, KINDS, SCHEMA_ID, WARNING, Finding, document
from .thresholds import DEFAULT_THRESHOLDS, Thresholds

__all__ = ["CRITICAL", "DEFAULT_THRESHOLDS", "KINDS", "SCHEMA_ID", "WARNING", "Detector",
           "Finding", "Thresholds", "detect", "document"]
