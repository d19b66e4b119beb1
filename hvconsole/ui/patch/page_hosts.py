"""Page 2, *Hosts and rings*: which hosts, the **test ring** (the non-production hosts the
update is tried on first; production waits for its soak) and the production waves, how
many hosts at a time, and whether a failure stops the rollout."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QSpinBox, QVBoxLayout

from hvconsole.core.compliance import assess

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WizardPageBase, cell, make_table
from .state import TEST_RING

WAVES = ["production wave 1", "production wave 2", "production wave 3"]
LEFT_OUT = "not in this run"
RINGS = [TEST_RING, *WAVES, LEFT_OUT]


class HostsPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Hosts and rings", "The test ring is patched first and watched (the soak); production "
                         "waves follow only when its health gate passes.", parent)
        self.table = make_table(["Host", "Compliance", "Running", "Target", "Ring", "Why"], stretch=5)
        self.parallel = QSpinBox(minimum=1, maximum=8)
        self.parallel.setToolTip("Hosts patched at the same time within a wave")
        self.stop_on_failure = QCheckBox("Stop the rollout at the first host that fails")
        self.stop_on_failure.setChecked(True)
        form = QFormLayout()
        form.addRow("Hosts at a time per wave", self.parallel)
        form.addRow("", self.stop_on_failure)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.status)
        self.combos: dict[str, QComboBox] = {}
        self._kb: str | None = None

    def initializePage(self) -> None:
        state = self.state
        update = state.catalog.get(state.draft.kb)
        self.table.setRowCount(0)
        self.combos.clear()
        defaults_needed = not state.planned_hosts()
        needing_seen = 0
        for host, snap in sorted(state.snaps.items(), key=lambda kv: kv[0].lower()):
            c = assess(host, snap, update)
            r = self.table.rowCount()
            self.table.insertRow(r)
            self.table.setItem(r, 0, cell(host))
            self.table.setItem(r, 1, cell(c.status, c.reason, BAD_COLOR if c.needs_action else
                                          (OK_COLOR if c.status == "compliant" else MUTED_COLOR)))
            self.table.setItem(r, 2, cell(c.running))
            self.table.setItem(r, 3, cell(c.target))
            combo = QComboBox()
            combo.addItems(RINGS)
            if not c.needs_action:
                combo.setCurrentText(LEFT_OUT)
                combo.setEnabled(False)
                combo.setToolTip(f"{host} does not need {state.draft.kb}: {c.reason}")
            elif defaults_needed:
                combo.setCurrentText(TEST_RING if needing_seen == 0 else WAVES[0])
                needing_seen += 1
            else:
                combo.setCurrentText(state.ring_of(host) or LEFT_OUT)
            combo.currentTextChanged.connect(self._changed)
            self.combos[host] = combo
            self.table.setCellWidget(r, 4, combo)
            self.table.setItem(r, 5, cell(c.reason, c.reason))
        self.parallel.setValue(state.draft.parallel)
        self.stop_on_failure.setChecked(state.draft.stop_on_failure)
        self._changed()

    def set_ring(self, host: str, ring: str) -> None:
        self.combos[host].setCurrentText(ring)

    def _rings(self) -> dict[str, str | None]:
        return {h: (None if c.currentText() == LEFT_OUT else c.currentText()) for h, c in self.combos.items()}

    def _changed(self, *_: Any) -> None:
        rings = self._rings()
        self.state.set_rings(rings, WAVES)
        self.state.kept_out.clear()
        pilot = self.state.draft.pilot
        prod = [h for _, hs in self.state.draft.waves for h in hs]
        if not pilot:
            self.say("Put at least one host in the test ring: production is never patched first.", BAD_COLOR)
        elif not prod:
            self.say(f"Test ring: {', '.join(pilot)}. No production wave: the run ends after the test ring.",
                     MUTED_COLOR)
        else:
            self.say(f"Test ring: {', '.join(pilot)}; then " + "; ".join(
                f"{n}: {', '.join(hs)}" for n, hs in self.state.draft.waves), MUTED_COLOR)
        self.completeChanged.emit()

    def validatePage(self) -> bool:
        self.state.draft.parallel = self.parallel.value()
        self.state.draft.stop_on_failure = self.stop_on_failure.isChecked()
        return bool(self.state.draft.pilot)

    def isComplete(self) -> bool:
        return bool(self.state.draft.pilot)
