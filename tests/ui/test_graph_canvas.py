"""The host graphs' canvas: stored markers drawn as lines with their text as a tooltip,
a new y ceiling drawing that plot's axes again (and no other's), the still picture
following a resize."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import QCoreApplication
from test_host_graphs_synthetic import synthetic_site


def paint() -> None:
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()


def marker(t: float, text: str) -> SimpleNamespace:
    return SimpleNamespace(t=t, category="finding", kind="heartbeat-lost", severity="critical", text=text)


def test_markers_are_lines_with_a_plain_tooltip(graphs):
    canvas = graphs.graphics
    canvas.set_x(1000.0, 2000.0, offset=0.0, relative=False)     # a stored window: Unix time
    graphs.markers.show((marker(1500.0, "heartbeat-lost opened on <b>SQL-01</b>"),))
    assert len(graphs.markers) == 1
    plot = graphs.net_plot
    ax, bx = plot.x_map()
    x, y = ax * 1500.0 + bx, plot.view_rect.center().y()
    tip = canvas.marker_at(x + 2, y)
    # Plain text: the host's words as they are, under our own first line (Qt guesses
    # rich text from the first line only).
    assert tip is not None and tip.splitlines()[1].endswith("<b>SQL-01</b>") and "<" not in tip.splitlines()[0]
    assert canvas.marker_at(x + 40, y) is None
    paint()
    image = canvas.grab().toImage()
    r = canvas.devicePixelRatioF()      # the image's pixels (QT_SCALE_FACTOR 1.5, 2)

    def colours(at_x: float) -> set[int]:   # along the dashed line, a dash and a gap at least
        return {image.pixel(int(at_x * r), int((y + dy) * r)) for dy in range(-6, 7)}

    assert colours(x) != colours(x + 40)
    graphs.markers.clear()
    assert len(graphs.markers) == 0 and canvas.marker_at(x, y) is None


def test_a_new_ceiling_draws_only_its_plots_axes(graphs):
    graphs.set_window(300)
    graphs.set_history(synthetic_site(ticks=80).host("HV01"))
    paint()
    canvas = graphs.graphics
    canvas.redraw_still()
    paint()
    drawn = canvas.still_draws
    graphs._set_y(graphs.net_plot.scale, graphs.net_plot.scale.top * 10)
    assert canvas._still_plots == {id(graphs.net_plot)}
    paint()
    assert canvas.still_draws == drawn + 1 and not canvas._still_plots


def test_a_resize_draws_the_still_picture_at_the_new_size(graphs, qtbot):
    graphs.set_history(synthetic_site(ticks=30).host("HV01"))
    paint()
    graphs.resize(500, 800)
    canvas = graphs.graphics
    qtbot.waitUntil(lambda: canvas.still_layer().deviceIndependentSize().toSize() == canvas.size())
    assert graphs.net_plot.view_rect.bottom() < graphs.graphics.height()
