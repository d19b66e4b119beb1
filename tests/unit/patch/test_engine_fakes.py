"""An in-memory Hyper-V host that answers the patch scripts as the contract says
(docs/patching.md), for fast, deterministic engine tests. No tests in this module.

The fake keeps its own host clock (every call and poll moves it a little), reboots over a
few polls (still up, down, back with a new last boot and the installed build), runs an
install task over a few status calls, and counts what was done to it: install starts,
reboot requests, boots. ``stop_after[(script, n)]`` makes the n-th call of a script stop
the runner right after the call took effect, the way a kill would leave the journal: the
step's intent written, no outcome.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from hvconsole.core.patch.journal import Journal
from hvconsole.core.patch.plan import HealthGate, PackageSource, PatchPlan, Wave
from hvconsole.core.snapshot import OsInfo, Snapshot, VmQuery, VmSample, unreachable
from hvconsole.core.timeutil import format_time
from hvconsole.patch.context import EngineOptions
from hvconsole.patch.engine import execute_with
from hvconsole.patch.host_api import PatchHost
from hvconsole.patch.staging import STAGING_DIR
from hvconsole.patch.waiting import StopRequested
from hvconsole.remote.session import ScriptResult

KB = "KB5061906"
PACKAGE = "windows10.0-kb5061906-x64.msu"
PACKAGE_PATH = f"{STAGING_DIR}\\{PACKAGE}"
GOOD_SHA = "ab" * 32
T0 = datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc)
EVIL_VM = "a'; Stop-Computer -Force; '"
# 1000x host time: polls are quick, deadlines (reboot 3600 s -> 3.6 s real, settle the same)
# still leave a loaded machine a hundred times what the fake needs.
OPTIONS = EngineOptions(speed=1000.0, min_real_wait_s=0.0, postcheck_polls=2, soak_poll_s=10.0,
                        settle_timeout_s=3600.0)


@dataclass
class FakeVm:
    id: str
    name: str
    state: str = "Running"
    heartbeat: str | None = "OkApplicationsHealthy"
    is_clustered: bool = False
    booted: datetime | None = T0 - timedelta(days=3)

    def uptime(self, now: datetime) -> int:
        return 0 if self.booted is None or self.state != "Running" else int((now - self.booted).total_seconds())


@dataclass
class FakeHost:
    name: str
    build: int = 20348
    ubr: int = 3692
    fixed_ubr: int = 3695
    pending: bool = False
    is_admin: bool = True
    vmms: str = "Running"
    free_mb: int = 60_000
    install_exit: int = 3010
    install_polls: int = 2          # status calls answering "running" before "done"
    reboots_needed: int = 1         # boots after the install until the build moves and nothing is pending
    down_polls: int = 2
    no_return: bool = False
    vms: dict[str, FakeVm] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)     # lower-case path -> sha256
    now: datetime = T0
    last_boot: datetime = T0 - timedelta(days=9)
    calls: Counter = field(default_factory=Counter)
    install_starts: int = 0
    boots: int = 0
    stop_after: dict[tuple[str, int], threading.Event] = field(default_factory=dict)
    on_call: Callable[[str, Mapping[str, Any]], None] | None = None
    critical_vm: str | None = None   # a VM that turns RunningCritical ...
    critical_after_polls: int = 4    # ... this many polls after it was restored (in the soak)
    _critical_countdown: int | None = None
    _tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _reboot: list[str] = field(default_factory=list)       # phases still to go: "up", "down", "back"
    _phase: str = "up"
    _installed: bool = False
    _boots_after_install: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_vms(self, *specs: tuple[str, str]) -> list[FakeVm]:
        made = []
        for name, state in specs:
            vm = FakeVm(str(uuid.UUID(int=len(self.vms) + 1 + 1000 * len(self.name))), name, state,
                        "OkApplicationsHealthy" if state == "Running" else None)
            self.vms[vm.id] = vm
            made.append(vm)
        return made

    # -- time and reboots -------------------------------------------------------------------

    def _tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        if self._reboot:
            self._phase = self._reboot.pop(0)
            if self._phase == "back":
                self._come_back()
                self._phase = "up"

    def _come_back(self) -> None:
        self.boots += 1
        self.last_boot = self.now - timedelta(seconds=1)
        if self._installed:
            self._boots_after_install += 1
            if self._boots_after_install >= self.reboots_needed:
                self.ubr, self.pending = self.fixed_ubr, False
        for vm in self.vms.values():   # the console saved them; Save-VM'd VMs stay saved
            if vm.state == "Running":
                vm.state, vm.heartbeat = "Off", None

    @property
    def up(self) -> bool:
        return self._phase != "down"

    # -- the snapshotter --------------------------------------------------------------------

    def poll(self, cancel: Any = None) -> Snapshot:
        with self.lock:
            self._tick(5)
            if self._critical_countdown is not None:
                self._critical_countdown -= 1
                if self._critical_countdown <= 0 and self.critical_vm:
                    self.vms[self.critical_vm].state = "RunningCritical"
            if not self.up:
                return unreachable(self.name, self.now, "refused", f"{self.name} refused the connection")
            return Snapshot(
                host=self.name, polled_at=self.now, reachable=True, host_time=self.now,
                os=OsInfo(product="Windows Server 2022 Datacenter", build=self.build, ubr=self.ubr,
                          last_boot=self.last_boot, pending_reboot=self.pending,
                          hotfixes=(KB,) if self._installed else ()),
                services={"vmms": self.vmms}, vm_query=VmQuery(ok=True, elapsed_ms=20),
                vms=tuple(VmSample(id=v.id, name=v.name, state=v.state, heartbeat=v.heartbeat,
                                   is_clustered=v.is_clustered, cpu_pct=3.0, uptime_s=v.uptime(self.now),
                                   health="CriticalFailure" if v.state == "RunningCritical" else "Ok")
                          for v in self.vms.values()))

    def close(self) -> None:
        pass

    # -- the script runner ------------------------------------------------------------------

    def run_script(self, script: str, params: Mapping[str, Any], *, timeout_s: float, cancel: Any = None) -> ScriptResult:
        with self.lock:
            json.dumps(params)      # params must be plain JSON data
            self._tick(1)
            if not self.up:
                from hvconsole.remote.errors import RemoteError
                raise RemoteError("refused", f"{self.name} refused the connection")
            self.calls[script] += 1
            doc = getattr(self, "_" + script)(params)
            stop = self.stop_after.get((script, self.calls[script]))
        if self.on_call is not None:
            self.on_call(script, params)
        if stop is not None:
            stop.set()
            raise StopRequested()
        return ScriptResult(json.dumps(doc), "", 0, 3, 1)

    def _patch_preflight(self, p: Mapping[str, Any]) -> dict[str, Any]:
        staged = None
        path = f"{p['staging_dir']}\\{p['package_file']}".lower()
        if path in self.files:
            staged = {"path": path, "size": 100, "sha256": self.files[path]}
        return {"is_admin": self.is_admin, "product": "Windows Server 2022 Datacenter", "build": self.build,
                "ubr": self.ubr, "last_boot": format_time(self.last_boot), "pending_reboot": self.pending,
                "pending_reboot_reasons": ["CBS"] if self.pending else [], "services": {"vmms": self.vmms},
                "system_drive_free_mb": self.free_mb, "staging_drive_free_mb": self.free_mb, "cluster": None,
                "vms": [{"id": v.id, "name": v.name, "state": v.state, "heartbeat": v.heartbeat, "merging": False,
                         "is_clustered": False, "last_backup": format_time(self.now)} for v in self.vms.values()],
                "staged": staged}

    def _patch_stage_check(self, p: Mapping[str, Any]) -> dict[str, Any]:
        sha = self.files.get(p["path"].lower())
        return {"exists": sha is not None, "size": 100 if sha else None, "sha256": sha,
                "matches": None if p["sha256"] is None else sha == p["sha256"]}

    def _patch_drain(self, p: Mapping[str, Any]) -> dict[str, Any]:
        out = []
        for entry in p["vms"]:
            vm = self.vms[entry["id"]]
            before = vm.state
            if vm.state == "Running" and entry["action"] in ("save", "shutdown"):
                vm.state, vm.heartbeat = ("Saved" if entry["action"] == "save" else "Off"), None
            out.append({"id": vm.id, "name": vm.name, "action": entry["action"], "ok": True,
                        "state_before": before, "state_after": vm.state, "skipped_reason": None, "error": None})
        return {"cluster": None, "vms": out}

    def _task_doc(self, name: str) -> dict[str, Any]:
        task = self._tasks.get(name)
        if task is None:
            return {"state": "not-found"}
        if task["polls_left"] > 0:
            task["polls_left"] -= 1
            return {"state": "running", "started_at": format_time(task["started"]), "method": "dism"}
        if not task.get("applied"):
            task["applied"] = True
            if self.install_exit in (0, 3010, 1641):
                self._installed = True
                self.pending = True
        return {"state": "done", "exit_code": self.install_exit, "started_at": format_time(task["started"]),
                "finished_at": format_time(self.now), "method": "dism"}

    def _patch_install_start(self, p: Mapping[str, Any]) -> dict[str, Any]:
        if p["task_name"] in self._tasks:
            return self._task_doc(p["task_name"])
        if p["package_path"].lower() not in self.files:
            raise AssertionError("install started without the package on the host")
        self.install_starts += 1
        self._tasks[p["task_name"]] = {"started": self.now, "polls_left": self.install_polls}
        return {"state": "started", "started_at": format_time(self.now)}

    def _patch_install_status(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return self._task_doc(p["task_name"])

    def _patch_reboot(self, p: Mapping[str, Any]) -> dict[str, Any]:
        if not self._reboot:
            phases = ["up"] + ["down"] * self.down_polls
            self._reboot = phases + ([] if self.no_return else ["back"])
            if self.no_return:
                self._reboot += ["down"] * 10_000
        return {"scheduled": True, "last_boot": format_time(self.last_boot)}

    def _patch_restore(self, p: Mapping[str, Any]) -> dict[str, Any]:
        out = []
        for entry in p["vms"]:
            vm = self.vms[entry["id"]]
            before = vm.state
            if entry["action"] in ("start", "resume") and vm.state in ("Off", "Saved", "Paused"):
                vm.state, vm.heartbeat, vm.booted = "Running", "OkApplicationsHealthy", self.now
                if vm.id == self.critical_vm:
                    self._critical_countdown = self.critical_after_polls
            out.append({"id": vm.id, "name": vm.name, "action": entry["action"], "ok": True,
                        "state_before": before, "state_after": vm.state, "error": None})
        return {"cluster": None, "vms": out}

    def _patch_cleanup(self, p: Mapping[str, Any]) -> dict[str, Any]:
        removed = self._tasks.pop(p["task_name"], None) is not None
        return {"task_removed": removed, "package_removed": False}


def plan_for(*waves: tuple[str, ...], soak_minutes: float = 1.0, stop_on_failure: bool = True,
             reboot_timeout_s: float = 3600.0, parallel: int = 1) -> PatchPlan:
    return PatchPlan(kb=KB, waves=tuple(Wave("pilot" if i == 0 else f"prod{i}", hosts, parallel)
                                        for i, hosts in enumerate(waves)),
                     package=PackageSource("on-host", PACKAGE_PATH, GOOD_SHA),
                     gate=HealthGate(soak_minutes=soak_minutes), stop_on_failure=stop_on_failure,
                     reboot_timeout_s=reboot_timeout_s)


def fake_site(*names: str, vms: int = 3) -> dict[str, FakeHost]:
    hosts = {}
    for name in names:
        h = FakeHost(name)
        h.add_vms(*[(f"{name}-VM{i}", "Running") for i in range(vms)], (f"{name}-OFF", "Off"))
        h.files[PACKAGE_PATH.lower()] = GOOD_SHA
        hosts[name] = h
    return hosts


def run(journal: Journal, run_id: int, hosts: dict[str, FakeHost], *, stop: threading.Event | None = None,
        options: EngineOptions = OPTIONS, events: list | None = None) -> Any:
    def factory(name: str) -> PatchHost:
        h = hosts[name]            # KeyError: not a known host (a peer lookup)
        return PatchHost(name, h, h)
    progress = events.append if events is not None else None
    return execute_with(journal, run_id, factory, options=options, stop=stop, progress=progress)


def new_run(tmp_path: Path, plan: PatchPlan) -> tuple[Journal, int]:
    journal = Journal(tmp_path / "journal.sqlite")
    return journal, journal.create_run(plan.kb, plan.to_dict())
