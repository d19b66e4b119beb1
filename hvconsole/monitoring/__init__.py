"""Monitoring without a window: the per-host poll worker (collector, freeze detector,
compliance, maintenance feed) and the immutable rows, words and colours it produces.

Qt-free (an import-linter contract keeps it so): the window (``hvconsole.ui``) and the
headless agent (``hvconsole.agent``) both build on it."""
