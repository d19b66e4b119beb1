"""Page 4, *Pre-flight*: the shipped ``patch_preflight`` check, live on every planned host
(each on a pool thread; read-only: nothing is changed on a host), with the reasons that
block a host or only warn. A blocked host is kept out of the plan: it cannot be committed.
The run repeats the check on every host right before patching it."""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WARN_COLOR, WizardPageBase, cell, make_table
from .services import HostPreflight


class PreflightPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Pre-flight", "Each planned host is checked now (read-only). A host with a blocking "
                         "problem is kept out of the run; warnings are shown and the run goes on.", parent)
        self.table = make_table(["Host", "Ring", "Verdict", "Running", "Target", "Reasons"], stretch=5)
        self.table.setWordWrap(True)
        self.rerun = QPushButton("Run the checks again")
        self.rerun.clicked.connect(self.start)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.rerun)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._rings: dict[str, str] = {}
        self._rows: dict[str, int] = {}

    def initializePage(self) -> None:
        if not self.state.preflight or set(self.state.preflight) != set(self.state.planned_hosts()):
            self.start()

    def start(self) -> None:
        state = self.state
        if self._rings:
            state.restore_kept_out(self._rings)
        self._rings = {h: state.ring_of(h) for h in state.planned_hosts()}
        state.preflight.clear()
        state.invalidate_from("review")
        self.table.setRowCount(0)
        self._rows.clear()
        draft, planning = state.draft, self.wiz.planning
        for host in state.planned_hosts():
            r = self.table.rowCount()
            self.table.insertRow(r)
            self._rows[host] = r
            self.table.setItem(r, 0, cell(host))
            self.table.setItem(r, 1, cell(self._rings[host]))
            self.table.setItem(r, 2, cell("checking…", color=MUTED_COLOR))
            self.run_off_thread(partial(_preflight, planning, draft, host), self._checked,
                                f"the pre-flight of {host}")
        self.rerun.setEnabled(False)
        self.say(f"Checking {len(self._rows)} host(s)…")

    def _checked(self, result: Any) -> None:
        state = self.state
        state.preflight[result.host] = result
        r = self._rows[result.host]
        reasons = [*(f"blocks: {p}" for p in result.problems), *(f"warns: {w}" for w in result.warnings)]
        if result.error:
            reasons.insert(0, f"blocks: cannot check the host: {result.error}")
        if result.blocked:
            verdict, color = "blocked: kept out", BAD_COLOR
        elif result.compliant:
            verdict, color = "already compliant", OK_COLOR
        else:
            verdict, color = ("ready, with warnings", WARN_COLOR) if result.warnings else ("ready", OK_COLOR)
        self.table.setItem(r, 2, cell(verdict, color=color))
        self.table.setItem(r, 3, cell(f"{result.build}.{result.ubr}" if result.build is not None else None))
        self.table.setItem(r, 4, cell(result.target))
        self.table.setItem(r, 5, cell("\n".join(reasons) or "no problems", "\n".join(reasons)))
        self.table.resizeRowToContents(r)
        if result.blocked:
            state.keep_out(result.host, "; ".join(reasons))
        if len(state.preflight) == len(self._rows):
            self._summarise()

    def _summarise(self) -> None:
        self.rerun.setEnabled(True)
        kept = self.state.kept_out
        if not self.state.draft.pilot:
            self.say("Every test-ring host is blocked: fix the reasons and run the checks again, or go back and "
                     "choose another test host.", BAD_COLOR)
        elif kept:
            self.say(f"Kept out of the run: {', '.join(kept)}. The others are ready.", WARN_COLOR)
        else:
            warned = [h for h, p in self.state.preflight.items() if p.warnings]
            self.say("Every planned host passed the pre-flight checks"
                     + (f" ({', '.join(warned)} with warnings: read them before going on)." if warned else "."),
                     OK_COLOR)

    def isComplete(self) -> bool:
        state = self.state
        return (not self.busy and bool(state.draft.pilot)
                and all(h in state.preflight and not state.preflight[h].blocked for h in state.planned_hosts()))


def _preflight(planning: Any, draft: Any, host: str, cancel: Any) -> Any:
    """The planning service's verdict; anything it raises blocks the host with the reason
    (a host that cannot be judged is never committed)."""
    try:
        return planning.preflight(draft, host, cancel=cancel)
    except Exception as exc:  # a bug or an unforeseen answer: shown on the host's row
        return HostPreflight(host, error=f"{type(exc).__name__}: {exc}")
