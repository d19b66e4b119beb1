"""A step as a journal keeps it: the intent written before it runs, the outcome and its
evidence after. The patch journal (``patch.journal.StepRecord``: a run's step on one host)
and the recovery journal (``recovery.journal.Action``: a step of one incident) add where
the step belongs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalledStep:
    id: int
    step: str
    intent: Mapping[str, Any]
    started_at: datetime
    outcome: str | None                     # None while in flight
    evidence: Mapping[str, Any] | None
    finished_at: datetime | None

    @property
    def in_flight(self) -> bool:
        """Intent written, outcome not: the console stopped while this step ran."""
        return self.outcome is None
