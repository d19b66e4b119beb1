"""Page 3, *Package*: a local file pushed to each host over SMB (its SHA-256 computed here
with a progress bar and compared with the catalog's), or a file already on every host
(each host's own Get-FileHash is asked). A missing or mismatching package is refused on
this page, not at run time."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from hvconsole.remote.smb_stage import host_path_for

from .page_base import BAD_COLOR, OK_COLOR, WizardPageBase


class PackagePage(WizardPageBase):
    hashed = Signal(int, int)       # bytes done, total: emitted on a pool thread, queued here

    def __init__(self, parent: Any = None):
        super().__init__("Package", "Where the update's package comes from. It is checked now: a missing or "
                         "different file is refused here, before anything is planned.", parent)
        self.on_host = QRadioButton("Already on every host, at")
        self.push = QRadioButton("A file on this computer, pushed to each host over SMB (admin share C$)")
        group = QButtonGroup(self)
        group.addButton(self.on_host)
        group.addButton(self.push)
        self.host_path = QLineEdit()
        self.local_path = QLineEdit(placeholderText="choose the .msu or .cab file")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.sha = QLineEdit(placeholderText="from the vendor; empty: the catalog's, or the first host's file")
        self.check_button = QPushButton("Check the package")
        self.check_button.clicked.connect(self.check)
        self.progress = QProgressBar()
        self.progress.setFormat("SHA-256 %p%")
        self.progress.hide()
        grid = QGridLayout()
        grid.setColumnMinimumWidth(0, 24)          # the fields sit under their choice
        grid.addWidget(self.on_host, 0, 0, 1, 3)
        grid.addWidget(self.host_path, 1, 1, 1, 2)
        grid.addWidget(self.push, 2, 0, 1, 3)
        grid.addWidget(self.local_path, 3, 1)
        grid.addWidget(self.browse, 3, 2)
        grid.addWidget(QLabel("Expected SHA-256"), 4, 0, 1, 3)
        grid.addWidget(self.sha, 5, 1, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        row = QHBoxLayout()
        row.addWidget(self.check_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        for w in (self.on_host, self.push):
            w.toggled.connect(self._edited)
        for edit in (self.host_path, self.local_path, self.sha):
            edit.textEdited.connect(self._edited)
        self.hashed.connect(self._hashed)

    def initializePage(self) -> None:
        draft = self.state.draft
        update = self.state.catalog.get(draft.kb)
        catalog_file = update.packages[0].file if update and update.packages else ""
        self.on_host.setChecked(draft.package_kind == "on-host")
        self.push.setChecked(draft.package_kind == "smb-push")
        self.host_path.setText(draft.package_location if draft.package_kind == "on-host" and draft.package_location
                               else (host_path_for(catalog_file) if catalog_file else ""))
        if draft.package_kind == "smb-push":
            self.local_path.setText(draft.package_location or "")
        self.sha.setText(draft.sha256 or "")
        if self.state.package is None and self.on_host.isChecked() and self.host_path.text():
            self.check()
        elif self.state.package is not None:
            self._show(self.state.package)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Update package", "",
                                              "Update packages (*.msu *.cab);;All files (*)")
        if name:
            self.local_path.setText(name)
            self.push.setChecked(True)
            self._edited()

    def _edited(self, *_: Any) -> None:
        on_host = self.on_host.isChecked()
        self.host_path.setEnabled(on_host)
        self.local_path.setEnabled(not on_host)
        draft = self.state.draft
        draft.package_kind = "on-host" if self.on_host.isChecked() else "smb-push"
        draft.package_location = (self.host_path.text().strip() if self.on_host.isChecked()
                                  else self.local_path.text().strip()) or None
        draft.sha256 = self.sha.text().strip().lower() or None
        self.state.invalidate_from("package")
        self.progress.hide()
        self.say("Check the package before going on.")
        self.completeChanged.emit()

    def check(self) -> None:
        self._edited()
        draft, planning = self.state.draft, self.wiz.planning
        if not draft.package_location:
            self.say("Name the package first.", BAD_COLOR)
            return
        self.progress.setVisible(draft.package_kind == "smb-push")
        self.progress.setValue(0)
        self.check_button.setEnabled(False)
        self.say("Hashing the local file…" if draft.package_kind == "smb-push"
                 else f"Asking {', '.join(self.state.planned_hosts())} for the file and its SHA-256…")
        snapshot = self.state.draft

        def work(cancel: Any) -> Any:
            return planning.check_package(snapshot, progress=lambda d, t: self.hashed.emit(d, t), cancel=cancel)
        self.run_off_thread(work, self._checked, "the package check")

    def _hashed(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(1, total // 1024))
        self.progress.setValue(done // 1024)

    def _checked(self, result: Any) -> None:
        self.check_button.setEnabled(True)
        self.state.package = result
        if result.ok and result.sha256 and not self.state.draft.sha256:
            self.state.draft.sha256 = result.sha256
        self._show(result)

    def _show(self, result: Any) -> None:
        self.say(("Package OK: " if result.ok else "Refused: ") + result.message, OK_COLOR if result.ok else BAD_COLOR)

    def isComplete(self) -> bool:
        return not self.busy and self.state.package is not None and self.state.package.ok
