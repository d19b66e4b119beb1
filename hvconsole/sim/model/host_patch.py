"""A simulated host's install state: its ``C:`` drive, its scheduled tasks and its installer.

The patch workflow installs through a **scheduled task running as SYSTEM** whose wrapper
runs the installer and writes a result file (hyperv-notes §7, ``patch_install_start.ps1``).
Here that task is :class:`ScheduledTask`; starting it runs the simulated installer on the
site's timeline (``installer`` decides what it does), and when it finishes its result
file appears on the host's drive (``host_drive``), in the wrapper's format, and the update
takes effect the way Windows does it: the KB is listed at once, the running build changes
only after the reboot that completes it (``SimHost.install_update``). A reboot while the
installer runs kills it: no result file, and the task's last result says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hvconsole.core.timeutil import format_time

from .host_drive import FolderDrive, MemoryDrive
from .installer import InstallHost, InstallOutcome, InstallRun, plan_install

if TYPE_CHECKING:
    from .events import EventLog
    from .timeline import Timeline

# Task Scheduler's LastTaskResult values that are not an installer's exit code.
TASK_HAS_NOT_RUN = 0x41303              # SCHED_S_TASK_HAS_NOT_RUN
TASK_RUNNING = 0x41301                  # SCHED_S_TASK_RUNNING
TASK_ABORTED = 0x8007042B               # ERROR_PROCESS_ABORTED: the host went down under it [U]


@dataclass
class ScheduledTask:
    """A registered task (``Register-ScheduledTask``) that runs one package's installer."""

    name: str
    package_path: str
    result_path: str
    method: str
    state: str = "Ready"                 # Ready | Running (what Get-ScheduledTask shows)
    last_result: int = TASK_HAS_NOT_RUN  # Get-ScheduledTaskInfo's LastTaskResult (UInt32)
    started_t: float | None = None       # LastRunTime
    finished_t: float | None = None
    runs: int = 0                        # a completion from an older run is ignored


@dataclass(frozen=True)
class InstallRecord:
    """One finished installer run, for tests and the demo's story."""

    kb: str | None
    exit_code: int
    started_t: float
    finished_t: float


class PatchedHost(InstallHost, Protocol):
    """What the install state reads of its host (a :class:`~.host.SimHost`) besides what
    the installer reads: its site's timeline, its event log, its clock's error."""

    site: Timeline | None
    events: EventLog
    clock_skew_s: float


class HostPatchState:
    """``host.patch``: drive, tasks, install outcomes and reboot behaviour of one host."""

    def __init__(self, host: PatchedHost):
        self.host = host
        self.drive: MemoryDrive | FolderDrive = MemoryDrive()
        self.tasks: dict[str, ScheduledTask] = {}          # by lower-case name, like Windows
        self.outcomes: dict[str, InstallOutcome] = {}      # by KB: scenario data
        self.no_return = False          # the next patch reboot never completes (boot hangs)
        self.reboot_at_t: float | None = None              # a scheduled shutdown /r
        self.reboot_comment: str | None = None
        self.installs: list[InstallRecord] = []
        self.worked_t: float | None = None   # when a patch run last changed this host (drain … restore)

    # -- set-up (scenarios, tests) ------------------------------------------------------

    def mount_folder(self, root: Path) -> None:
        """Make the host's ``C:\\`` a real folder (e.g. a Samba share's ``C$``)."""
        self.drive = FolderDrive(root)

    def stage(self, path: str, data: bytes) -> None:
        """Put a file on the host's drive as if it had been copied there."""
        self.drive.write(path, data)

    def set_outcome(self, kb: str, outcome: InstallOutcome) -> None:
        self.outcomes[kb.upper()] = outcome

    # -- tasks --------------------------------------------------------------------------

    def task(self, name: str) -> ScheduledTask | None:
        return self.tasks.get(name.lower())

    def register_task(self, name: str, package_path: str, result_path: str, method: str) -> ScheduledTask:
        """Register-ScheduledTask -Force: replaces a task of that name that is not running."""
        task = ScheduledTask(name, package_path, result_path, method)
        self.tasks[name.lower()] = task
        return task

    def unregister_task(self, name: str) -> bool:
        return self.tasks.pop(name.lower(), None) is not None

    def installer_running(self) -> bool:
        return any(task.state == "Running" for task in self.tasks.values())

    def run_task(self, task: ScheduledTask, t: float) -> InstallRun:
        """Start-ScheduledTask: the installer runs on the timeline; returns its plan."""
        site = self.host.site
        assert site is not None
        runs = sum(known.runs for known in self.tasks.values())
        run_plan = plan_install(self.host, self.drive, runs, task.package_path, task.method, self.outcomes)
        task.runs += 1
        run = task.runs
        task.state, task.last_result = "Running", TASK_RUNNING
        task.started_t, task.finished_t = t, None

        def finished(t2: float) -> None:
            if task.runs != run or task.state != "Running":
                return                  # killed (reboot) or started again since
            task.state, task.last_result, task.finished_t = "Ready", 0, t2   # the wrapper exits 0
            self.drive.write(task.result_path, self.result_document(run_plan, t, t2).encode("utf-8"))
            self.installs.append(InstallRecord(run_plan.kb, run_plan.exit_code, t, t2))
            if run_plan.apply is not None:
                run_plan.apply()
            elif run_plan.failed and run_plan.kb is not None:
                self.host.events.write(t2, "update_failed", code=f"0x{run_plan.exit_code:08X}",
                                       title=f"Update ({run_plan.kb})")
        site.after(run_plan.seconds, finished)
        return run_plan

    def result_document(self, run_plan: InstallRun, started_t: float, finished_t: float) -> str:
        """The wrapper's result file: exit code (unsigned), times, method, steps, log tail."""
        times = [started_t + (finished_t - started_t) * i / max(1, len(run_plan.log)) for i in range(len(run_plan.log))]
        log = "\n".join(f"{self.host_time(when)} {line}" for when, line in zip(times, run_plan.log, strict=True))
        return json.dumps({"exit_code": run_plan.exit_code, "started_at": self.host_time(started_t),
                           "finished_at": self.host_time(finished_t), "method": run_plan.method,
                           "steps": [{"cab": cab, "exit_code": code} for cab, code in run_plan.steps],
                           "log": log[-8000:]}, separators=(",", ":"))

    def read_result(self, path: str) -> dict[str, Any] | None:
        """The result file at ``path``; None when there is none. ValueError when it is
        there but not JSON (ConvertFrom-Json would throw)."""
        raw = self.drive.read(path)
        if raw is None:
            return None
        doc = json.loads(raw.decode("utf-8-sig"))
        return doc if isinstance(doc, dict) else {}

    def power_lost(self, t: float) -> None:
        """The host goes down: a running installer dies, a scheduled shutdown is spent."""
        for task in self.tasks.values():
            if task.state == "Running":
                task.state, task.last_result, task.finished_t = "Ready", TASK_ABORTED, t
                task.runs += 1
        self.reboot_at_t = None

    def host_time(self, t: float | None) -> str | None:
        """A time as this host's (slightly wrong) clock writes it."""
        site = self.host.site
        if t is None or site is None:
            return None
        return format_time(site.time_of(t + self.host.clock_skew_s))
