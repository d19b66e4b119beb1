"""The headless agent (``hvconsole agent``): the window's poll workers and freeze detector
on plain threads, serving Prometheus metrics (docs/history-and-prometheus.md).

* ``runner.py``: one polling thread per host around the window's own ``HostWorker``, built
  by ``hvconsole.monitoring.workers`` and scheduled by ``hvconsole.monitoring.schedule``.
* ``metrics.py``: the ``prometheus_client`` collector that turns the newest polls into
  metrics, with bounded label cardinality.

Never imports Qt nor ``hvconsole.ui`` (import-linter contract; a test also checks it at run
time): the window and the agent stand side by side on the Qt-free ``hvconsole.monitoring``.
"""
