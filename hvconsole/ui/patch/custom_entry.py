"""The "custom catalog entry" dialog of the Update page: the next incident's KB is one
nobody knows today (hyperv-notes §1), so an admin adds it here. The entry is written to
``<config>/catalog.d/custom-<KB>.json`` in the shipped catalog's format and checked by the
same parser before it is saved: a bad entry is one clear message, never a saved file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from hvconsole.core.atomic_file import atomic_write_text
from hvconsole.core.catalog import SCHEMA_ID, parse_catalog

PRODUCTS = {"Windows Server 2019": 17763, "Windows Server 2022": 20348, "Windows Server 2025": 26100}


class CustomEntryDialog(QDialog):
    def __init__(self, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Custom catalog entry")
        self.folder = folder
        self.saved_kb: str | None = None
        form = QFormLayout(self)
        self.kb = QLineEdit(placeholderText="KB5070000")
        self.title = QLineEdit(placeholderText="what the update fixes")
        self.product = QComboBox()
        self.product.addItems(list(PRODUCTS))
        self.min_ubr = QSpinBox(maximum=99999)
        self.released = QDateEdit(QDate.currentDate())
        self.released.setCalendarPopup(True)
        self.package = QLineEdit(placeholderText="windows10.0-kb5070000-x64.msu")
        self.sha256 = QLineEdit(placeholderText="optional: the package's SHA-256 from the vendor")
        for label, widget in (("KB", self.kb), ("Title", self.title), ("Product", self.product),
                              ("Fixed from UBR", self.min_ubr), ("Released", self.released),
                              ("Package file", self.package), ("SHA-256", self.sha256)):
            form.addRow(label, widget)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def entry(self) -> dict:
        product = self.product.currentText()
        package = {"file": self.package.text().strip(), "sha256": self.sha256.text().strip().lower() or None}
        return {"kb": self.kb.text().strip().upper(), "title": self.title.text().strip(),
                "released": self.released.date().toString("yyyy-MM-dd") or date.today().isoformat(),
                "kind": "other",
                "targets": [{"product": product, "build": PRODUCTS[product], "min_ubr": self.min_ubr.value(),
                             "track": "standard"}],
                "packages": [package] if package["file"] else []}

    def _save(self) -> None:
        doc = {"schema": SCHEMA_ID, "updates": [self.entry()]}
        updates, errors = parse_catalog(doc, "custom entry")
        if errors or not updates:
            self.error.setText("; ".join(e.problem for e in errors) or "the entry is not complete")
            return
        kb = updates[0].kb
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.folder / f"custom-{kb}.json", json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            self.error.setText(f"cannot save the entry: {exc}")
            return
        self.saved_kb = kb
        self.accept()
