"""The wizard's one door to the Qt-free patch services (issue 9's agreed interfaces 1–4):
the planning service, the run view, the journal watch, engine control and the vocabulary.
Pages, the controller and the session import them from here, so the GUI has one seam with
``hvconsole.patch``."""

from __future__ import annotations


from hvconsole.core.patch.journal import Journal, JournalError  # noqa: F401
from hvconsole.core.patch.plan import PatchPlan, PlanError, VmHandling  # noqa: F401
from hvconsole.core.patch.report import build_report, render_html  # noqa: F401
from hvconsole.core.patch.vocabulary import FINISHED_STATES, RunState  # noqa: F401
from hvconsole.patch.control import ControlError, request  # noqa: F401
from hvconsole.patch.engine import EngineError, create_run, load_site_catalog  # noqa: F401
from hvconsole.patch.planning import (HostPreflight, PackageCheck, PlanDraft, PlanningService,  # noqa: F401
                                      PlanReview, build_plan, with_notice)
from hvconsole.patch.run_view import RunView, run_view  # noqa: F401
from hvconsole.patch.watch import active_runs, interrupted_runs, open_maintenance  # noqa: F401

AWAITING_PROMOTION = RunState.AWAITING_PROMOTION


