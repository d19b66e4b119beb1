"""Page 5, *VMs and downtime*: what happens to each running VM while its host is patched
(live-migrate to a named host, save, shut down, or the host's own stop action), defaulted
from one rule for all, with the estimated downtime per VM and per host (the planning
service's review, computed off the GUI thread)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QVBoxLayout

from hvconsole.core.enums import RUNNING_VM_STATES

from .page_base import BAD_COLOR, MUTED_COLOR, WizardPageBase, cell, make_table
from .services import VmHandling

ACTIONS = {"save": "Save (resume afterwards)", "shutdown": "Shut down (start afterwards)",
           "live-migrate": "Live-migrate to…", "host-default": "The VM's own automatic stop action"}
LABEL_TO_ACTION = {v: k for k, v in ACTIONS.items()}


class VmsPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("VMs and downtime", "Running VMs must leave or stop before their host reboots. VMs that "
                         "are off or saved are left as they are.", parent)
        self.default = QComboBox()
        self.default.addItems([ACTIONS[a] for a in ("save", "shutdown", "host-default")])
        self.default.currentTextChanged.connect(self._default_changed)
        form = QFormLayout()
        form.addRow("For every running VM", self.default)
        self.table = make_table(["VM", "Host", "State", "While the host is patched", "Move to", "Downtime"], stretch=3)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self._combos: dict[str, tuple[QComboBox, QComboBox]] = {}
        self._rows: dict[str, int] = {}

    def initializePage(self) -> None:
        state = self.state
        self.default.blockSignals(True)
        self.default.setCurrentText(ACTIONS[state.draft.vm_default.action])
        self.default.blockSignals(False)
        others = [h for h in state.snaps if h not in state.planned_hosts()]
        self.table.setRowCount(0)
        self._combos.clear()
        self._rows.clear()
        for host, vm in sorted(state.vms_of_plan(), key=lambda hv: (hv[0].lower(), hv[1].name.lower())):
            r = self.table.rowCount()
            self.table.insertRow(r)
            self._rows[vm.id] = r
            self.table.setItem(r, 0, cell(vm.name))
            self.table.setItem(r, 1, cell(host))
            self.table.setItem(r, 2, cell(vm.state))
            if vm.state not in RUNNING_VM_STATES:
                self.table.setItem(r, 3, cell("left as it is", color=MUTED_COLOR))
                continue
            action, dest = QComboBox(), QComboBox()
            action.addItems(list(ACTIONS.values()))
            dest.addItems(others)
            handling = state.draft.vm_overrides.get(vm.id, state.draft.vm_default)
            action.setCurrentText(ACTIONS[handling.action])
            dest.setCurrentIndex(others.index(handling.destination) if handling.destination in others else -1)
            dest.setEnabled(handling.action == "live-migrate")
            action.currentTextChanged.connect(lambda _t, i=vm.id: self._vm_changed(i))
            dest.currentTextChanged.connect(lambda _t, i=vm.id: self._vm_changed(i))
            self._combos[vm.id] = (action, dest)
            self.table.setCellWidget(r, 3, action)
            self.table.setCellWidget(r, 4, dest)
        self._estimate()

    def set_handling(self, vm_id: str, action: str, destination: str | None = None) -> None:
        combo, dest = self._combos[vm_id]
        if destination:
            dest.setCurrentText(destination)
        combo.setCurrentText(ACTIONS[action])

    def _default_changed(self, label: str) -> None:
        self.state.draft.vm_default = VmHandling(LABEL_TO_ACTION[label])
        for vm_id, (combo, _) in self._combos.items():
            if vm_id not in self.state.draft.vm_overrides:
                combo.blockSignals(True)
                combo.setCurrentText(label)
                combo.blockSignals(False)
        self._estimate()

    def _vm_changed(self, vm_id: str) -> None:
        combo, dest = self._combos[vm_id]
        action = LABEL_TO_ACTION[combo.currentText()]
        dest.setEnabled(action == "live-migrate")
        if action == "live-migrate" and dest.currentIndex() < 0 and dest.count():
            dest.setCurrentIndex(0)         # signals: this handler runs again with a destination
            return
        if action != "live-migrate" and dest.currentIndex() >= 0:
            dest.blockSignals(True)
            dest.setCurrentIndex(-1)
            dest.blockSignals(False)
        overrides = self.state.draft.vm_overrides
        if action == "live-migrate" and not dest.currentText():
            self.say("Live migration needs another host that is not being patched; none is known.", BAD_COLOR)
            overrides.pop(vm_id, None)
            return
        handling = VmHandling(action, dest.currentText() if action == "live-migrate" else None)
        if handling == self.state.draft.vm_default:
            overrides.pop(vm_id, None)
        else:
            overrides[vm_id] = handling
        self._estimate()

    def _estimate(self) -> None:
        state, planning = self.state, self.wiz.planning
        state.invalidate_from("review")
        plan = self.plan_or_say()
        if plan is None:
            return
        snaps = dict(state.snaps)
        self.run_off_thread(lambda cancel: planning.review(plan, snaps), self._estimated, "the downtime estimate")

    def _estimated(self, review: Any) -> None:
        minutes = review.downtime_minutes
        for vm_id, r in self._rows.items():
            if vm_id in minutes:
                m = minutes[vm_id]
                self.table.setItem(r, 5, cell("none expected" if m == 0 else f"about {m:.0f} min"))
        hosts = [f"{k.split(':', 1)[1]} about {v:.0f} min" for k, v in minutes.items() if k.startswith("host:")]
        self.say("Each host is out of service: " + "; ".join(hosts) + ". A live-migrated VM has no downtime.")

    def isComplete(self) -> bool:
        return not self.busy
