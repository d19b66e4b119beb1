"""The engine's front door: open the journal, create a run from a plan, execute or resume
it under the run lock, ask a running one to pause or cancel.

    journal = open_journal()
    run_id = create_run(journal, plan)
    result = execute(journal, run_id, directory, progress=print_progress)

``execute`` is also resume: the runner reads where every host stands from the journal and
the hosts themselves. Only one process executes a run at a time (``control.RunLock``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from hvconsole import paths
from hvconsole.core.catalog import Catalog, CatalogUpdate
from hvconsole.core.maintenance import MaintenanceRegistry
from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import PatchPlan, PlanError

from .context import EngineOptions, Progress, RunContext
from .control import RunControl, RunLock
from .host_api import PatchHost
from .journal_access import is_being_executed, journal_path, open_journal  # noqa: F401 (the front door's too)
from .runner import PatchRunner, RunResult
from .site_catalog import load_site_catalog
from .sites import HostDirectory
from .staging import Stager


class EngineError(RuntimeError):
    """A run that cannot start (unknown KB, bad plan, run busy): the message says why."""


def catalog_update(kb: str, catalog: Catalog | None = None) -> CatalogUpdate:
    update = (catalog or load_site_catalog()).get(kb)
    if update is None:
        raise EngineError(f"{kb} is not in the update catalog; add it under "
                          f"{paths.config_dir() / 'catalog.d'} (see docs/patching.md)")
    return update


def create_run(journal: Journal, plan: PatchPlan) -> int:
    catalog_update(plan.kb)
    return journal.create_run(plan.kb, plan.to_dict())


def run_plan(journal: Journal, run_id: int) -> PatchPlan:
    try:
        return PatchPlan.from_dict(journal.run(run_id).plan)
    except PlanError as exc:
        raise EngineError(f"run {run_id}: {exc}") from None


def execute(journal: Journal, run_id: int, directory: HostDirectory, *, options: EngineOptions | None = None,
            progress: Progress | None = None, stop: threading.Event | None = None,
            maintenance: MaintenanceRegistry | None = None) -> RunResult:
    """Run (or resume) ``run_id`` against the hosts of ``directory`` to its end, a pause
    that is never lifted, or ``stop``."""
    plan = run_plan(journal, run_id)
    known = {n.casefold() for n in directory.names()}
    missing = [h for h in plan.hosts if h.casefold() not in known]
    if missing:
        raise EngineError(f"run {run_id} needs host(s) {', '.join(missing)}, not found in {directory.description}")
    return execute_with(journal, run_id, directory.patch_host, options=options or EngineOptions(speed=directory.speed),
                        stager=directory.stager(), progress=progress, stop=stop, maintenance=maintenance)


def execute_with(journal: Journal, run_id: int, host_factory: Callable[[str], PatchHost], *,
                 options: EngineOptions, stager: Stager | None = None, progress: Progress | None = None,
                 stop: threading.Event | None = None, maintenance: MaintenanceRegistry | None = None) -> RunResult:
    """:func:`execute` with the hosts given as a factory of :class:`PatchHost` objects."""
    plan = run_plan(journal, run_id)
    update = catalog_update(plan.kb)
    lock = RunLock(journal.path, run_id)
    if not lock.acquire(wait_s=2.0):
        pid = lock.holder_pid()
        raise EngineError(f"run {run_id} is being executed by another process{f' (pid {pid})' if pid else ''}")
    try:
        ctx = RunContext(journal=journal, run_id=run_id, plan=plan, update=update, host_factory=host_factory,
                         control=RunControl(journal, run_id, stop), options=options,
                         maintenance=maintenance if maintenance is not None else MaintenanceRegistry(),
                         stager=stager, progress=progress, created=journal.run(run_id).created_at)
        return PatchRunner(ctx).execute()
    finally:
        lock.release()

