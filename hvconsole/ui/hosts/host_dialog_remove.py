"""Removing a host asks first, says what goes (the inventory entry and the stored
password) and what stays (the host and its VMs are not touched), with Cancel as the
default button so that a stray Enter removes nothing."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from hvconsole.core.inventory import Host, HostBook, InventoryError
from hvconsole.credentials import CredentialStoreError


def remove_question(host: Host, book: HostBook, parent: QWidget | None = None) -> QMessageBox:
    """The confirmation box for removing ``host`` (not shown yet)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Remove host")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setStyleSheet("QLabel#qt_msgbox_informativelabel { min-width: 380px; }")  # else wrapped narrow
    box.setText(f"Remove {host.name} from the console?")
    passwords = book.passwords
    where = "the OS keyring" if passwords is None or passwords.kind == "keyring" else "this session"
    box.setInformativeText(
        f"{host.name} ({host.address}) leaves the inventory and its password is deleted from {where}. "
        "Nothing changes on the host or its virtual machines; you can add it again later.")
    remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
    remove.setObjectName("removeButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    return box


def confirm_and_remove(book: HostBook, name: str, parent: QWidget | None = None, *,
                       ask: Callable[[QMessageBox], object] = QMessageBox.exec) -> bool:
    """Ask, then remove. Returns True when the host was removed. A password that could not
    be deleted is reported in a second box (the host itself is gone by then)."""
    host = book.inventory.get(name)
    box = remove_question(host, book, parent)
    ask(box)
    if box.clickedButton() is None or box.clickedButton().objectName() != "removeButton":
        return False
    try:
        book.remove(host.name)
    except InventoryError as exc:            # e.g. changed meanwhile by the command line
        _tell(f"{host.name} was not removed: {exc}", parent, ask)
        return False
    except CredentialStoreError as exc:
        _tell(f"{host.name} was removed, but its stored password could not be deleted: {exc}", parent, ask)
    return True


def _tell(text: str, parent: QWidget | None, ask: Callable[[QMessageBox], object]) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, "Remove host", "", QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    ask(box)
