"""The wizard's one door to the Qt-free patch services (issue 9's agreed interfaces 1–4):
the planning service, the run view, the journal watch, engine control and the vocabulary.
Pages, the controller and the session import them from here, so the GUI has one seam with
``hvconsole.patch``."""

from __future__ import annotations

from hvconsole.core.patch.journal import Journal, JournalError
from hvconsole.core.patch.plan import PatchPlan, PlanError, VmHandling
from hvconsole.core.patch.report import build_report, render_html
from hvconsole.core.patch.vocabulary import FINISHED_STATES, RunState
from hvconsole.patch.control import ControlError, request
from hvconsole.patch.engine import EngineError, create_run, load_site_catalog
from hvconsole.patch.planning import (
    HostPreflight,
    PackageCheck,
    PlanDraft,
    PlanningService,
    PlanReview,
    build_plan,
    with_notice,
)
from hvconsole.patch.run_view import RunView, run_view
from hvconsole.patch.watch import active_runs, interrupted_runs, open_maintenance

# What the seam offers, in the order of the docstring: imported here to be used elsewhere.
__all__ = [
    "PlanningService", "PlanDraft", "PlanReview", "HostPreflight", "PackageCheck", "build_plan", "with_notice",
    "RunView", "run_view", "build_report", "render_html",
    "active_runs", "interrupted_runs", "open_maintenance", "Journal", "JournalError",
    "request", "ControlError", "create_run", "EngineError", "load_site_catalog",
    "RunState", "FINISHED_STATES", "AWAITING_PROMOTION", "PatchPlan", "PlanError", "VmHandling",
]

AWAITING_PROMOTION = RunState.AWAITING_PROMOTION


