"""Add or edit one host: name, address, connection (with the HTTPS certificate options),
port, account, password and group, a **Test connection** that runs off the GUI thread,
**Check this host…** (the doctor's checks, issue 17, in their own dialog), and Save, which
writes the inventory and the password store as one step
(:class:`~hvconsole.core.inventory.HostBook`).

The dialog owns no rules: every field is checked by the inventory's own validators, so the
GUI and ``hvconsole hosts`` accept and refuse exactly the same input, with the same words.
Host data is shown as plain text only.

The connection test runs on a worker thread. Save runs on the GUI thread on purpose: it is
a small local file write plus one local keyring call, and the dialog must not close before
both succeeded (or show why they did not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hvconsole.core.inventory import (
    TRANSPORT_LABELS,
    DuplicateHostError,
    Host,
    HostBook,
    HostValidationError,
    InventoryError,
    Transport,
)
from hvconsole.core.inventory.book import Password
from hvconsole.core.inventory.fields import MAX_POLL_INTERVAL_S, MIN_POLL_INTERVAL_S
from hvconsole.credentials import CredentialStoreError, Secret

from .host_dialog_probe import ProbePanel

VALIDATE_SYSTEM, VALIDATE_BUNDLE, VALIDATE_NONE = 0, 1, 2
NO_VERIFY_WARNING = ("The host's identity will not be checked: anyone on the network path can pose as this "
                     "host and capture the password. Use only in a lab; prefer a CA bundle.")


def _plain(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class HostDialog(QDialog):
    """``HostDialog(book)`` adds a host; ``HostDialog(book, host_name="HV01")`` edits it.
    After ``Accepted``, :attr:`saved_host` is what was written."""

    def __init__(self, book: HostBook, *, host_name: str | None = None, parent: QWidget | None = None,
                 runner: Any = None, probe: Any = None, probe_timeout_s: float = 30.0,
                 clock: Callable[[], Any] | None = None):
        """``clock``: the hosts' clock for the doctor's clock check (None: real time)."""
        super().__init__(parent)
        self.book = book
        self.clock = clock
        self.doctor: Any = None             # the "Check this host" dialog last opened
        self.original: Host | None = book.inventory.get(host_name) if host_name else None
        self.saved_host: Host | None = None
        self.setWindowTitle(f"Edit host – {self.original.name}" if self.original else "Add host")
        self.setMinimumWidth(560)
        self._build()
        self.probe_panel = ProbePanel(self, runner=runner, probe=probe, timeout_s=probe_timeout_s)
        self.probe_panel.button.clicked.connect(self._toggle_test)
        self._outer.insertWidget(self._outer.count() - 1, self.probe_panel)     # above Save / Cancel
        self.doctor_button = QPushButton("Check this &host…", self)
        self.doctor_button.setObjectName("checkThisHost")
        self.doctor_button.setToolTip("Run every read-only check the console needs on this host, "
                                      "each with what to do when it fails; save a diagnostic bundle")
        self.doctor_button.clicked.connect(self.check_host)
        _place_beside(self.probe_panel, self.probe_panel.button, self.doctor_button)
        self._fill(self.original)
        self._sync_transport()
        # A shown verdict describes the fields as they were: editing them makes it stale.
        for edit in (self.name_edit, self.address_edit, self.user_edit, self.password_edit, self.ca_edit):
            edit.textChanged.connect(self.probe_panel.clear)
        self.port_spin.valueChanged.connect(self.probe_panel.clear)
        self.transport_combo.currentIndexChanged.connect(self.probe_panel.clear)
        self.validation.idToggled.connect(lambda *_: self.probe_panel.clear())

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("how the console names it, e.g. HV01")
        self.address_edit = QLineEdit(self)
        self.address_edit.setPlaceholderText("hv01.corp.example, 10.0.0.21 or 2001:db8::21")
        self.transport_combo = QComboBox(self)
        for transport, label in TRANSPORT_LABELS.items():
            self.transport_combo.addItem(label, transport.value)
        self.port_spin = QSpinBox(self)
        self.port_spin.setRange(0, 65535)          # 0 = the transport's default port
        self.port_spin.setMinimumWidth(140)
        self.user_edit = QLineEdit(self)
        self.user_edit.setPlaceholderText("DOMAIN\\user or user@domain")
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.store_note = _plain(self._store_text(), self)
        self.store_note.setObjectName("storeNote")
        self.store_note.setMinimumWidth(400)   # a wrapped label in a form row is otherwise squeezed
        if self.book.passwords is not None and self.book.passwords.kind == "session":
            self.store_note.setStyleSheet("color: #9a6700;")
        else:
            self.store_note.setStyleSheet("color: #5f6368;")
        self.group_combo = QComboBox(self)
        self.group_combo.setEditable(True)
        self.group_combo.setMinimumWidth(220)
        self.group_combo.addItems(sorted({h.group for h in self.book.inventory if h.group}))
        group_line = self.group_combo.lineEdit()      # there since setEditable(True)
        if group_line is not None:
            group_line.setPlaceholderText("optional, e.g. pilot or prod")
        # One below the lowest interval stands for "the window's default" (Qt shows the
        # special text at the minimum), so the field can never hold an invalid number.
        self.interval_spin = QSpinBox(self)
        self.interval_spin.setObjectName("pollInterval")
        self.interval_spin.setRange(MIN_POLL_INTERVAL_S - 1, MAX_POLL_INTERVAL_S)
        self.interval_spin.setSuffix(" s")
        self.interval_spin.setSpecialValueText("default")
        self.interval_spin.setMinimumWidth(140)
        self.interval_spin.setToolTip("Seconds between polls of this host. Each poll starts PowerShell on the "
                                      "host; a longer interval costs it less CPU")

        form.addRow("&Name:", self.name_edit)
        form.addRow("&Address:", self.address_edit)
        form.addRow("&Connection:", self.transport_combo)
        form.addRow("&Port:", self.port_spin)
        self.tls_box = self._build_tls_box()
        form.addRow(self.tls_box)
        form.addRow("&User name:", self.user_edit)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("", self.store_note)
        form.addRow("&Group:", self.group_combo)
        form.addRow("Poll &every:", self.interval_spin)
        # Off by default: the loop's behaviour on Windows PowerShell 5.1 is checked only
        # against the simulated host (docs/winrm.md, "The collect loop", lists the checks).
        self.loop_check = QCheckBox("Keep one collect running on the host (experimental)", self)
        self.loop_check.setObjectName("collectLoop")
        self.loop_check.setToolTip(
            "Each poll is one request line to a PowerShell that keeps running, instead of a new "
            "powershell.exe every poll: less CPU on the host and in the console. Turn it on only "
            "for a host that passed the checks in docs/winrm.md (\"The collect loop\"); a loop that "
            "does not answer falls back to one call a poll until the console restarts.")
        form.addRow("", self.loop_check)

        self.problem = _plain("", self)
        self.problem.setObjectName("formProblem")
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save |
                                        QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        self._outer = QVBoxLayout(self)
        self._outer.addLayout(form)
        self._outer.addWidget(self.problem)
        self._outer.addWidget(self.buttons)
        self.transport_combo.currentIndexChanged.connect(self._sync_transport)

    def _build_tls_box(self) -> QGroupBox:
        box = QGroupBox("HTTPS certificate", self)
        self.validate_system = QRadioButton("Validate with the public certificate authorities", box)
        self.validate_bundle = QRadioButton("Validate with a CA bundle (PEM file):", box)
        self.validate_none = QRadioButton("Do not validate (lab only)", box)
        self.validation = QButtonGroup(box)
        for button, ident in ((self.validate_system, VALIDATE_SYSTEM), (self.validate_bundle, VALIDATE_BUNDLE),
                              (self.validate_none, VALIDATE_NONE)):
            self.validation.addButton(button, ident)
        self.ca_edit = QLineEdit(box)
        self.ca_edit.setPlaceholderText("/path/to/corp-ca.pem")
        self.ca_browse = QPushButton("Browse…", box)
        self.ca_browse.clicked.connect(self._browse_ca)
        self.no_verify_warning = _plain("⚠ " + NO_VERIFY_WARNING, box)
        self.no_verify_warning.setObjectName("noVerifyWarning")
        self.no_verify_warning.setStyleSheet(
            "color: #8a1c1c; background: #fdecea; border: 1px solid #d32f2f; border-radius: 3px; padding: 4px;")
        ca_row = QHBoxLayout()
        ca_row.setContentsMargins(24, 0, 0, 0)
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse)
        layout = QVBoxLayout(box)
        layout.addWidget(self.validate_system)
        layout.addWidget(self.validate_bundle)
        layout.addLayout(ca_row)
        layout.addWidget(self.validate_none)
        layout.addWidget(self.no_verify_warning)
        self.validation.idToggled.connect(lambda *_: self._sync_transport())
        return box

    def _store_text(self) -> str:
        passwords = self.book.passwords
        if passwords is None:
            return "No password store is available: the password cannot be kept."
        if passwords.kind == "session":
            reason = getattr(passwords, "reason", None)
            return ("Kept for this session only (forgotten when hvconsole closes)."
                    + (f" {reason}" if reason else ""))
        return "Stored in the OS keyring, never in a file."

    def _fill(self, host: Host | None) -> None:
        self.validate_system.setChecked(True)
        if host is None:
            return
        self.name_edit.setText(host.name)
        self.address_edit.setText(host.address)
        self.transport_combo.setCurrentIndex(self.transport_combo.findData(host.transport.value))
        self.port_spin.setValue(host.port or 0)
        self.user_edit.setText(host.username)
        self.group_combo.setCurrentText(host.group or "")
        self.interval_spin.setValue(host.poll_interval_s or self.interval_spin.minimum())
        self.loop_check.setChecked(host.collect_loop)
        self.password_edit.setPlaceholderText("unchanged (leave empty to keep the stored password)")
        if host.ca_bundle:
            self.validate_bundle.setChecked(True)
            self.ca_edit.setText(host.ca_bundle)
        elif not host.verify_tls:
            self.validate_none.setChecked(True)

    # -- behaviour ------------------------------------------------------------------------

    def _transport(self) -> Transport:
        return Transport(self.transport_combo.currentData())

    def _sync_transport(self) -> None:
        transport = self._transport()
        self.port_spin.setSpecialValueText(f"default ({transport.default_port})")
        self.tls_box.setVisible(transport.uses_tls)
        choice = self.validation.checkedId()
        self.ca_edit.setEnabled(choice == VALIDATE_BUNDLE)
        self.ca_browse.setEnabled(choice == VALIDATE_BUNDLE)
        self.no_verify_warning.setVisible(transport.uses_tls and choice == VALIDATE_NONE)
        # The dialog grows (or may shrink) through event(): LayoutRequest.

    # -- size -----------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest and not self._fitting:
            # A label's text or a box's visibility changed: make room for every wrapped
            # line at the current width (word-wrapped labels are otherwise squeezed to
            # their one-line minimum and clipped mid-glyph).
            self._fitting = True
            try:
                self.fit_to_contents()
            finally:
                self._fitting = False
        return handled

    _fitting = False

    def fit_to_contents(self) -> None:
        """Height for the current width: grow to show everything; never clip below it."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = self.width()
        need = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
                else layout.totalSizeHint().height())
        if need <= 0:
            return
        self.setMinimumHeight(need)
        if self.height() < need:
            self.resize(width, need)

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA bundle", "",
                                              "PEM certificates (*.pem *.crt *.cer);;All files (*)")
        if path:
            self.ca_edit.setText(path)

    def host_from_fields(self) -> Host:
        """The host the fields describe (raises :class:`HostValidationError`)."""
        transport = self._transport()
        choice = self.validation.checkedId() if transport.uses_tls else VALIDATE_SYSTEM
        ca_bundle = self.ca_edit.text() if choice == VALIDATE_BUNDLE else None
        if ca_bundle is not None and not ca_bundle.strip():
            raise HostValidationError("ca_bundle", "choose the CA bundle file, or another validation option")
        # Any: one set of keyword arguments makes a new Host or changes the one edited
        # (with_changes keeps what is not named here, the id included).
        fields: dict[str, Any] = {
            "name": self.name_edit.text(), "address": self.address_edit.text(),
            "username": self.user_edit.text(), "transport": transport,
            "port": self.port_spin.value() or None, "group": self.group_combo.currentText(),
            "ca_bundle": ca_bundle, "verify_tls": choice != VALIDATE_NONE,
            "poll_interval_s": (None if self.interval_spin.value() == self.interval_spin.minimum()
                                else self.interval_spin.value()),
            "collect_loop": self.loop_check.isChecked(),
        }
        host = self.original.with_changes(**fields) if self.original else Host(**fields)
        clash = self.book.inventory.find(host.name)
        if clash is not None and clash.id != host.id:
            raise HostValidationError("name", f"a host named {clash.name!r} already exists (names ignore case)")
        return host

    def _typed_password(self) -> Secret | None:
        text = self.password_edit.text()
        return Secret(text) if text else None

    def _toggle_test(self) -> None:
        if self.probe_panel.running:
            self.probe_panel.cancel()
            return
        inputs = self._connection_inputs("test the connection")
        if inputs is not None:
            self.probe_panel.start(*inputs)

    def check_host(self) -> Any:
        """Open "Check this host" for what the fields describe (the same host and password
        the connection test would use); its checks start at once, off the GUI thread."""
        inputs = self._connection_inputs("check this host")
        if inputs is None:
            return None
        from ..doctor_dialog import DoctorDialog
        host, password = inputs
        if self.doctor is not None:
            self.doctor.close()         # one at a time: the fields may have changed
        self.doctor = DoctorDialog(host, password, clock=self.clock, parent=self)
        self.doctor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.doctor.destroyed.connect(self._doctor_gone)
        self.doctor.open()
        self.doctor.start()
        return self.doctor

    def _doctor_gone(self, *args: object) -> None:
        self.doctor = None

    def _connection_inputs(self, purpose: str) -> tuple[Host, Callable[[], Password]] | None:
        """The host the fields describe and a callable for its password (called on a worker
        thread: the keyring may block), or None after saying what to fix."""
        try:
            host = self.host_from_fields()
        except HostValidationError as exc:
            self._flag(exc)
            self.probe_panel.show_problem("Fix the highlighted field first.")
            return None
        self._flag(None)
        typed = self._typed_password()
        if typed is None and self.original is None:
            self.probe_panel.show_problem(f"Type the password to {purpose}.")
            self.password_edit.setFocus()
            return None
        book, original = self.book, self.original

        def password() -> Password:      # on the worker thread: the keyring may block
            if typed is not None:
                return typed
            stored = book.password(original) if original is not None and book.passwords is not None else None
            if stored is None:
                raise LookupError("No password is stored for this host: type it to test.")
            return stored

        return host, password

    def _save(self) -> None:
        try:
            host = self.host_from_fields()
        except HostValidationError as exc:
            self._flag(exc)
            return
        password = self._typed_password()
        if self.original is None and password is None:
            self._flag(HostValidationError("password", "type the password (it is kept in the OS keyring)"))
            return
        try:
            if self.original is None:
                self.book.add(host, password)
            else:
                self.book.update(self.original.name, host, password)
        except DuplicateHostError as exc:
            self._flag(HostValidationError("name", str(exc)))
            return
        except (InventoryError, CredentialStoreError, OSError) as exc:
            self._flag(exc)
            return
        self.saved_host = host
        self.accept()

    _FIELD_WIDGETS: ClassVar[dict[str, str]] = {
        "name": "name_edit", "address": "address_edit", "transport": "transport_combo", "port": "port_spin",
        "username": "user_edit", "password": "password_edit", "group": "group_combo", "ca_bundle": "ca_edit"}

    def _flag(self, problem: Exception | None) -> None:
        """Show ``problem`` under the form and put the cursor where it can be fixed."""
        if problem is None:
            self.problem.hide()
            return
        self.problem.setText(str(problem)[:1].upper() + str(problem)[1:])
        self.problem.show()
        widget = getattr(self, self._FIELD_WIDGETS.get(getattr(problem, "field", ""), ""), None)
        if widget is not None:
            widget.setFocus()

    def done(self, result: int) -> None:
        self.probe_panel.shutdown()      # never wait for a test on a hung host
        if self.doctor is not None:
            self.doctor.close()          # cancels its checks, never waits
        super().done(result)


def _place_beside(root: QWidget, anchor: QWidget, widget: QWidget) -> None:
    """Put ``widget`` right after ``anchor`` in the box layout of ``root`` that holds it
    (the connection test's row), or under ``root`` if no such row is found."""
    def find(layout: QLayout | None) -> QBoxLayout | None:
        if layout is None:
            return None
        if isinstance(layout, QBoxLayout) and layout.indexOf(anchor) >= 0:
            return layout
        for i in range(layout.count()):
            item = layout.itemAt(i)
            found = find(item.layout() if item is not None else None)
            if found is not None:
                return found
        return None

    outer = root.layout()
    row = find(outer)
    if row is not None:
        row.insertWidget(row.indexOf(anchor) + 1, widget)
    elif outer is not None:
        outer.addWidget(widget)
    else:
        QVBoxLayout(root).addWidget(widget)
