"""Guided recovery of a frozen VM or host (issue 15), the Qt-free and network-free part:
what the host's answer means (observe.py), which step may come next and why (rules.py),
the journal (journal.py) and the incident record (record.py). docs/recovery.md."""
