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
    s = round(seconds)
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s"


class RunTable:
    def __init__(self) -> None:
        self.table: QTableWidget = make_table(["Host", "Ring"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self._steps: list[str] = []
        self._shown: dict[tuple[int, int], tuple] = {}     # what each cell shows: unchanged cells are not touched

    def _set(self, r: int, c: int, text: str, tip: str | None = None, color: str | None = None) -> None:
        # Every refresh (each second, and on every progress event) would otherwise replace
        # all cells, and a resize-to-contents header measures each one again.
        key = (text, tip, color)
        if self._shown.get((r, c)) != key:
            self._shown[(r, c)] = key
            self.table.setItem(r, c, cell(text, tip, color))

    def show(self, view: Any) -> None:
        steps = [s.step for s in view.hosts[0].steps] if view.hosts else []
        if steps != self._steps:
            self._steps = steps
            self.table.setColumnCount(2 + len(steps))
            self.table.setHorizontalHeaderLabels(["Host", "Ring", *(SHORT.get(s, s) for s in steps)])
            self._shown.clear()
        if self.table.rowCount() != len(view.hosts):
            self.table.setRowCount(len(view.hosts))
            self._shown.clear()
        for r, host in enumerate(view.hosts):
            note = " (reboot pending)" if host.pending_reboot else ""
            self._set(r, 0, host.host + note, None, BAD_COLOR if note else None)
            self._set(r, 1, "test ring" if host.wave == view.hosts[0].wave else host.wave)
            for c, step in enumerate(host.steps, start=2):
                mark, color = MARKS.get(str(step.state), ("?", MUTED_COLOR))
                text = f"{mark} {elapsed_text(step.elapsed_s)}".strip()
                tip = f"{step.step}: {step.state}" + (f"\n{step.summary}" if step.summary else "")
                self._set(r, c, text, tip, color)


def soak_line(soak: Any, state: str) -> tuple[str, str]:
    """The soak as one line of plain text and its colour: a countdown with the gate's live
    verdict while it runs, then the verdict."""
    if soak.passed is None:
        left = int(soak.remaining_s or 0)
        return (f"Soak of the test ring ({', '.join(soak.hosts)}): {left // 60}:{left % 60:02d} left. "
                f"{soak.verdict_text}", WARN_COLOR)
    if soak.passed:
        waiting = " — production waits for “Promote to production”." if state == "awaiting-promotion" else ""
        return f"Health gate passed: {soak.verdict_text}{waiting}", OK_COLOR
    return f"Health gate failed: {soak.verdict_text}", BAD_COLOR
