"""Widgets only: main window, tile view, graphs, findings, events, dialogs."""
