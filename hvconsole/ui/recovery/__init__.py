"""The Recover… dialog (issue 15): the guided recovery of a frozen VM or a wedged VMMS,
self-contained. The window opens it with :func:`open_recovery`; docs/recovery.md lists the
hookups (tile context menu, VM detail window, finding)."""

from .dialog import RecoveryDialog, open_recovery

__all__ = ["RecoveryDialog", "open_recovery"]
