"""Findings and events: their tables and panels, the tray notifier and the "Fix available"
banner."""
