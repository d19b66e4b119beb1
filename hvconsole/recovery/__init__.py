"""The recovery engine (issue 15): runs the guided recovery's steps on one host through
``hvconsole.remote`` (the ``recover_*.ps1`` scripts), each with a deadline and a cancel
token, journalled intent-before / outcome-after, resumable after a crash. Never imports
Qt. The rules and the journal are in ``hvconsole.core.recovery``; docs/recovery.md."""

from .engine import RecoveryEngine, StepRefused, StepResult, active_recoveries, journal_for

__all__ = ["RecoveryEngine", "StepRefused", "StepResult", "active_recoveries", "journal_for"]
