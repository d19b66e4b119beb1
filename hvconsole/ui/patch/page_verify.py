"""Page 9, *Verify*: per host the build/UBR and the KB before → after and the host's
verdict, each VM's state before → after, the post-patch watch for a recurrence period the
admin chooses, and the verification report (``core.patch.report``) with export to HTML
and JSON. Everything is read off the GUI thread: the report from the journal, "after" from
a fresh poll of the run's hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from hvconsole.core.patch.report import render_html

from .page_base import BAD_COLOR, MUTED_COLOR, OK_COLOR, WizardPageBase, cell, make_table
from .post_watch import PostPatchWatch


class VerifyPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Verify", "What the run proved on every host, and a watch for the freeze coming back.",
                         parent)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Close")
        self.hosts = make_table(["Host", "Verdict", "Build before", "Build after", "KB before", "KB after",
                                 "Proof"], stretch=6)
        self.vms = make_table(["VM", "Host", "Before", "After"])
        self.vms.horizontalHeader().setStretchLastSection(True)
        self.report_view = QTextBrowser()
        self.report_view.setOpenLinks(False)
        summary = QWidget()
        box = QVBoxLayout(summary)
        box.addWidget(QLabel("<b>Hosts</b>"))
        box.addWidget(self.hosts, 1)
        box.addWidget(QLabel("<b>Virtual machines</b> (state before maintenance → now)"))
        box.addWidget(self.vms, 4)
        tabs = QTabWidget()
        tabs.addTab(summary, "Hosts and VMs")
        tabs.addTab(self.report_view, "Report")
        self.tabs = tabs
        self.watch_minutes = QDoubleSpinBox(minimum=1, maximum=7 * 24 * 60, decimals=0, suffix=" min")
        self.watch_minutes.setValue(60)
        self.watch_button = QPushButton("Watch for a recurrence")
        self.watch_button.clicked.connect(self.start_watch)
        self.watch_label = QLabel("")
        self.watch_label.setWordWrap(True)
        self.export_html_button = QPushButton("Export HTML…")
        self.export_json_button = QPushButton("Export JSON…")
        self.export_html_button.clicked.connect(lambda: self._export_dialog("html"))
        self.export_json_button.clicked.connect(lambda: self._export_dialog("json"))
        row = QHBoxLayout()
        for w in (QLabel("Post-patch watch"), self.watch_minutes, self.watch_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.export_html_button)
        row.addWidget(self.export_json_button)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addLayout(row)
        layout.addWidget(self.watch_label)
        layout.addWidget(self.status)
        self.report: dict[str, Any] | None = None
        self.watch: PostPatchWatch | None = None

    def initializePage(self) -> None:
        session, run_id, planning = self.wiz.session, self.state.run_id, self.wiz.planning
        self.say("Reading the run's report and asking the hosts what they run now…")

        def work(cancel: Any) -> tuple[dict, dict]:
            report = session.read_report(run_id)
            names = [h["host"] for h in report["hosts"]]
            return report, planning.survey(names, cancel=cancel)
        self.run_off_thread(work, self._loaded, "reading the report")

    def _loaded(self, result: tuple[dict, dict]) -> None:
        report, after = result
        self.report = report
        kb, before = report["kb"], self.state.snaps
        self.hosts.setRowCount(0)
        self.vms.setRowCount(0)
        for h in report["hosts"]:
            r = self.hosts.rowCount()
            self.hosts.insertRow(r)
            status = h["status"]
            self.hosts.setItem(r, 0, cell(h["host"]))
            checks = h.get("checks") or []
            proof = "\n".join(f"{c.get('check')}: {'pass' if c.get('passed') else 'FAIL'} {c.get('detail', '')}"
                              for c in checks)
            self.hosts.setItem(r, 1, cell("fixed" if status == "verified" else status, proof,
                                          OK_COLOR if status == "verified" else BAD_COLOR))
            self.hosts.setItem(r, 6, cell("; ".join(f"{c.get('check')} {'✓' if c.get('passed') else '✗'}"
                                                    for c in checks) or "—", proof))
            self.hosts.setItem(r, 2, cell(h.get("build_before")))
            self.hosts.setItem(r, 3, cell(h.get("build_after")))
            self.hosts.setItem(r, 4, cell(_kb_text(before.get(h["host"]), kb)))
            self.hosts.setItem(r, 5, cell(_kb_text(after.get(h["host"]), kb)))
            now = {v.get("id"): v.get("state") for v in h.get("vms_after") or []}
            for vm in h.get("vms_before") or []:
                v = self.vms.rowCount()
                self.vms.insertRow(v)
                after_state = now.get(vm["id"], "not seen")
                same = after_state == vm["state"] or (vm["state"] == "RunningCritical" and after_state == "Running")
                self.vms.setItem(v, 0, cell(vm["name"]))
                self.vms.setItem(v, 1, cell(h["host"]))
                self.vms.setItem(v, 2, cell(vm["state"]))
                self.vms.setItem(v, 3, cell(after_state, color=OK_COLOR if same else BAD_COLOR))
        self.report_view.setHtml(render_html(report))
        s = report["summary"]
        fixed = s["verified"] == s["hosts"]
        self.say(f"{s['verified']} of {s['hosts']} host(s) verified fixed, {s['failed']} failed "
                 f"(run {report['run']}: {report['state']}).", OK_COLOR if fixed else BAD_COLOR)

    def fixed_hosts(self) -> list[str]:
        return [h["host"] for h in (self.report or {}).get("hosts", []) if h["status"] == "verified"]

    # -- post-patch watch ------------------------------------------------------------------

    def start_watch(self) -> None:
        hosts = self.fixed_hosts()
        if not hosts:
            self.watch_label.setText("No host was verified fixed: nothing to watch.")
            return
        self.stop_watch()
        session = self.wiz.session
        self.watch = PostPatchWatch(session.site.directory(), hosts, self.watch_minutes.value(),
                                    session.site.speed, self)
        self.watch.status.connect(self._watched)
        self.watch.start()
        self.watch_button.setEnabled(False)
        self.watch_label.setText(f"Watching {', '.join(hosts)} for {self.watch_minutes.value():g} min…")

    def stop_watch(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None

    def _watched(self, st: Any) -> None:
        text = (f"Post-patch watch of {', '.join(st.hosts)}: " +
                ("finished" if st.finished else
                 f"about {int(st.remaining_s) // 60}:{int(st.remaining_s) % 60:02d} left (real time)")
                + f", {st.rounds} poll round(s). ")
        if st.recurrences:
            text += "RECURRENCE: " + "; ".join(st.recurrences)
            color = BAD_COLOR
        else:
            text += "No freeze has come back."
            color = OK_COLOR if st.finished else MUTED_COLOR
        if st.unreachable:
            text += f" Not answering: {', '.join(st.unreachable)}."
        self.watch_label.setStyleSheet(f"color: {color};")
        self.watch_label.setText(text)
        if st.finished:
            self.watch_button.setEnabled(True)
        self.last_watch = st

    # -- export ----------------------------------------------------------------------------

    def export(self, path: Path, kind: str) -> None:
        if self.report is None:
            raise RuntimeError("the report has not been read yet")
        text = render_html(self.report) if kind == "html" else json.dumps(self.report, indent=2, ensure_ascii=False)
        path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")

    def _export_dialog(self, kind: str) -> None:
        run = (self.report or {}).get("run", "")
        name, _ = QFileDialog.getSaveFileName(self, "Export the report", f"patch-run-{run}.{kind}",
                                              "HTML (*.html)" if kind == "html" else "JSON (*.json)")
        if name:
            try:
                self.export(Path(name), kind)
                self.say(f"Report saved to {name}.", OK_COLOR)
            except (OSError, RuntimeError) as exc:
                self.say(f"Cannot save the report: {exc}", BAD_COLOR)

    def cleanupPage(self) -> None:
        self.stop_watch()

    def isComplete(self) -> bool:
        return not self.busy


def _kb_text(snap: Any, kb: str) -> str:
    if snap is None or not snap.reachable or snap.os is None:
        return "unknown"
    return f"{kb} listed" if kb in snap.os.hotfixes else f"{kb} not listed"


