"""The graphs' words: values read as pyqtgraph wrote them, and the host graphs' module
does not bring pyqtgraph into the window (only a VM window's plots do)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hvconsole.ui.hosts.graph_words import fmt_rate, si_scale


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0, 999.0, 1000.0, 999.9e3, 8.57e6, 14.9e6, 64e6, 1.5e9, 2e12])
def test_rates_read_as_pyqtgraph_wrote_them(value):
    import pyqtgraph as pg
    assert fmt_rate(value) == pg.siFormat(value, precision=3, suffix="B/s")
    assert si_scale(value) == pg.siScale(value)


def test_the_host_graphs_do_not_import_pyqtgraph():
    code = ("import sys; import hvconsole.ui.hosts.host_graphs as h; before = 'pyqtgraph' in sys.modules; "
            "h.make_curve; print(before, 'pyqtgraph' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.split() == ["False", "True"]     # the VM window's helpers bring it in
