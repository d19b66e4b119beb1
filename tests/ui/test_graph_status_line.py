"""The host graphs' status line: a new poll time is repainted without re-laying the pane,
a text that needs more lines is laid out like a word-wrapped label."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from hvconsole.ui.hosts.status_line import StatusLine

pytestmark = pytest.mark.usefixtures("qapp")

POLL = "Last poll 10:00:{:02d} · 32 logical processors"
LONG = "Unreachable since 10:00:10 (timeout: no answer within 10 s from the host's WinRM listener) " * 2


class LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def pane(qtbot, line: QWidget) -> QWidget:
    w = QWidget()
    qtbot.addWidget(w)
    box = QVBoxLayout(w)
    box.addWidget(line)
    box.addStretch(1)
    w.resize(400, 200)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_a_new_poll_time_is_repainted_without_a_relayout(qtbot):
    line = StatusLine("#d62728")
    w = pane(qtbot, line)
    line.set_text(POLL.format(0), alarming=False)
    QCoreApplication.processEvents()
    requests = LayoutRequests()
    w.installEventFilter(requests)
    for second in range(5, 30, 5):
        line.set_text(POLL.format(second), alarming=False)
        QCoreApplication.processEvents()
    assert requests.count == 0 and line.text() == POLL.format(25)
    line.set_text(LONG, alarming=True)          # two more lines: the pane is laid out again
    QCoreApplication.processEvents()
    assert requests.count >= 1 and line.alarming


def test_it_takes_the_height_a_wrapped_label_takes(qtbot):
    line, label = StatusLine("#d62728"), QLabel()
    label.setWordWrap(True)
    panes = pane(qtbot, line), pane(qtbot, label)   # held: qtbot keeps weak references
    for text in (POLL.format(0), LONG, ""):
        line.set_text(text, alarming=False)
        label.setText(text)
        QCoreApplication.processEvents()
        assert line.height() == label.height()
    assert all(p.isVisible() for p in panes)


def test_the_plots_stay_put_when_the_first_status_arrives(qtbot):
    """An empty line takes a line's height, as an empty label does: the first status
    would otherwise move the plots down and repaint them all a second time."""
    from test_host_graphs_synthetic import synthetic_site

    from hvconsole.ui.hosts.host_graphs import HostGraphs
    graphs = HostGraphs()
    qtbot.addWidget(graphs)
    graphs.resize(820, 560)
    graphs.show()
    qtbot.waitExposed(graphs)
    QCoreApplication.processEvents()
    empty = graphs.graphics.geometry()
    graphs.set_history(synthetic_site(ticks=20).host("HV01"))
    QCoreApplication.processEvents()
    assert graphs.status.text().startswith("Last poll")
    assert graphs.graphics.geometry() == empty
