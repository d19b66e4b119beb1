"""The Run page's per-host step timeline as a table: one row per host, one column per step
(preflight → … → maintenance-off), each cell the step's state and elapsed time with its
one-line summary as tooltip. Filled from ``run_view`` (the journal), so a run executed by
another process looks the same."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QTableWidget

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WARN_COLOR, cell, make_table

MARKS = {"pending": ("·", MUTED_COLOR), "running": ("▶", WARN_COLOR), "ok": ("✓", OK_COLOR),
         "failed": ("✗", BAD_COLOR), "skipped": ("–", MUTED_COLOR), "cancelled": ("⊘", BAD_COLOR)}
SHORT = {"maintenance-on": "maint. on", "maintenance-off": "maint. off"}


def elapsed_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s"


class RunTable:
    def __init__(self) -> None:
        self.table: QTableWidget = make_table(["Host", "Ring"])
        self._steps: list[str] = []

    def show(self, view: Any) -> None:
        steps = [s.step for s in view.hosts[0].steps] if view.hosts else []
        if steps != self._steps:
            self._steps = steps
            self.table.setColumnCount(2 + len(steps))
            self.table.setHorizontalHeaderLabels(["Host", "Ring", *(SHORT.get(s, s) for s in steps)])
        self.table.setRowCount(len(view.hosts))
        for r, host in enumerate(view.hosts):
            note = " (reboot pending)" if host.pending_reboot else ""
            self.table.setItem(r, 0, cell(host.host + note, color=BAD_COLOR if note else None))
            self.table.setItem(r, 1, cell(host.wave))
            for c, step in enumerate(host.steps, start=2):
                mark, color = MARKS.get(str(step.state), ("?", MUTED_COLOR))
                text = f"{mark} {elapsed_text(step.elapsed_s)}".strip()
                tip = f"{step.step}: {step.state}" + (f"\n{step.summary}" if step.summary else "")
                self.table.setItem(r, c, cell(text, tip, color))
