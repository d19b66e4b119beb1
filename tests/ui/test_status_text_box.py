"""The window's status text sits in a box of its own: a new text (every tick says when it
was updated) re-lays neither the status bar nor the window, and the status bar looks as it
did with the label placed in it directly."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtGui import QImage

from hvconsole.ui.main_window import MainWindow

pytestmark = pytest.mark.usefixtures("qapp")


class LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def grab_status_bar(window: MainWindow) -> QImage:
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    return window.statusBar().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_a_new_status_text_relays_neither_the_status_bar_nor_the_window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 700)
    window.set_site_label("site")
    window.status_text.setText("50 hosts · 2000 VMs · updated 10:02:30")
    window.show()
    qtbot.waitExposed(window)
    for _ in range(5):      # the first layouts after showing, which are not the text's
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
    requests = LayoutRequests()
    window.statusBar().installEventFilter(requests)
    window.installEventFilter(requests)
    for second in range(31, 36):
        window.status_text.setText(f"50 hosts · 2000 VMs · updated 10:02:{second}")
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
    assert requests.count == 0
    assert window.status_text.text().endswith("10:02:35")


@pytest.mark.parametrize("text", ["Connecting to 3 hosts…", "50 hosts · 2 not answering · 2000 VMs · updated 10:02:35"])
def test_the_status_bar_looks_as_with_the_label_in_it_directly(qtbot, text):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 700)
    window.set_site_label("demo site")
    window.status_text.setText(text)
    window.show()
    qtbot.waitExposed(window)
    boxed = grab_status_bar(window)
    label_geometry = window.status_text.geometry().translated(window.status_text.parentWidget().pos())
    # The label straight in the status bar, as it was before the box.
    bar = window.statusBar()
    box = window.status_text.parentWidget()
    bar.removeWidget(box)
    bar.addWidget(window.status_text, 1)
    window.status_text.show()
    box.deleteLater()
    direct = grab_status_bar(window)
    assert window.status_text.geometry() == label_geometry
    assert direct == boxed
