"""Helpers for the tests of the simulated site's patch behaviour (tests/sim/test_patch_*.py):
small sites on manual clocks, calling a patch script's handler the way the host agent does,
stepping the clock until something holds, and a minimal patch run (the order the engine
follows) to play a scenario to its end."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.agent.patch import HANDLERS
from hvconsole.sim.agent.host_agent import ScriptFailure
from hvconsole.sim.model import SimHost, SimSite, SimVM
from hvconsole.sim.model.packages import package_bytes, package_sha256

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
PACKAGE = "windows10.0-kb5061906-x64.msu"
PACKAGE_DIR = "C:\\hvconsole\\packages"
PACKAGE_PATH = f"{PACKAGE_DIR}\\{PACKAGE}"
RESULT_PATH = "C:\\hvconsole\\results\\KB5061906.json"
TASK = "hvconsole-install-KB5061906"


def vm_id(n: int) -> str:
    return str(uuid.UUID(int=n))


def small_site(*, build: int = 20348, ubr: int = 3692, staged: bool = True, cluster: str | None = None,
               hosts: tuple[str, ...] = ("HV01",)) -> SimSite:
    """HV01 (and more) with A (8 GB, Save), B (ShutDown), C (Off), D (Saved), E (appliance)."""
    site = SimSite(SimClock.manual(START), seed=7)
    for h, name in enumerate(hosts):
        host = site.add_host(SimHost(name, build=build, ubr=ubr, hotfixes=("KB5058385",), cluster=cluster))
        base = 100 * h
        # A is a confidential VM: KB5061906 applies (Microsoft scopes it to confidential VMs).
        host.add_vm(SimVM(f"A{h}", vm_id(base + 1), memory_mb=8192, is_clustered=cluster is not None,
                          confidential=True))
        host.add_vm(SimVM(f"B{h}", vm_id(base + 2), automatic_stop_action="ShutDown", is_clustered=cluster is not None))
        host.add_vm(SimVM(f"C{h}", vm_id(base + 3), state="Off", automatic_start_action="Nothing"))
        host.add_vm(SimVM(f"D{h}", vm_id(base + 4), state="Saved"))
        host.add_vm(SimVM(f"E{h}", vm_id(base + 5), guest="appliance", automatic_stop_action="TurnOff"))
        if staged:
            host.patch.stage(PACKAGE_PATH, package_bytes(PACKAGE))
    return site


def call(site: SimSite, host: str | SimHost, script: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run ``script``'s handler as the host agent does; the answer's JSON (exit 0 only)."""
    h = site.host(host) if isinstance(host, str) else host
    with site.acting():
        answer = HANDLERS[script](h, params, site.time_of(site.t))
    assert answer.exit_code == 0 and answer.stderr == b""
    assert not answer.stdout.endswith(b"\n")          # [Console]::Out.Write: no newline
    return json.loads(answer.stdout.decode("utf-8"))


def failure(site: SimSite, host: str, script: str, params: dict[str, Any]) -> ScriptFailure:
    """The script-level failure (hvc_error) ``params`` cause; fails the test if there is none."""
    with site.acting():
        try:
            HANDLERS[script](site.host(host), params, site.time_of(site.t))
        except ScriptFailure as exc:
            return exc
    raise AssertionError(f"{script} accepted {params!r}")


def has(doc: dict[str, Any], **expected: Any) -> bool:
    """``doc`` holds these keys with these values (others may be there too)."""
    missing = {k: (doc.get(k, "<missing>"), v) for k, v in expected.items() if doc.get(k, "<missing>") != v}
    assert not missing, f"got (actual, expected): {missing}"
    return True


def step(site: SimSite, seconds: float) -> float:
    site.clock.advance(seconds)
    return site.advance()


def wait_for(site: SimSite, condition: Callable[[], bool], max_s: float, every_s: float = 5.0) -> float | None:
    """Step the clock until ``condition()``; the simulated seconds it took, None if never."""
    waited = 0.0
    while waited <= max_s:
        if condition():
            return waited
        step(site, every_s)
        waited += every_s
    return None


def install_params(path: str = PACKAGE_PATH, method: str = "auto") -> dict[str, Any]:
    return {"package_path": path, "task_name": TASK, "result_path": RESULT_PATH, "method": method}


def status_params() -> dict[str, Any]:
    return {"task_name": TASK, "result_path": RESULT_PATH}


def vmms_up(host: SimHost) -> bool:
    assert host.site is not None
    return host.reachability() == "up" and host.services(host.site.t)["vmms"] == "Running"


@dataclass
class RunResult:
    """What a minimal patch run saw on one host."""

    stage: dict[str, Any] | None = None
    install: dict[str, Any] | None = None
    reboots: int = 0
    came_back: bool = True
    final: dict[str, Any] | None = None          # preflight after the last reboot
    restore: dict[str, Any] | None = None
    prior: dict[str, str] = field(default_factory=dict)
    stopped_at: str | None = None


def patch_run(site: SimSite, host_name: str, *, sha256: str | None = None, package_path: str = PACKAGE_PATH,
              target_ubr: int = 3695) -> RunResult:
    """The engine's order, minimally: preflight, stage check, drain (save what runs),
    install and wait, reboot(s) until the build is at target and nothing is pending,
    restore what was running, clean up. Stops at the first failure."""
    host = site.host(host_name)
    out = RunResult()
    pre = call(site, host, "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": package_path.rsplit("\\", 1)[1],
                                               "required_free_mb": 2048})
    out.prior = {v["id"]: v["state"] for v in pre["vms"]}
    out.stage = call(site, host, "patch_stage_check", {"path": package_path, "sha256": sha256 or package_sha256(PACKAGE)})
    if not out.stage["matches"]:
        out.stopped_at = "stage"
        return out
    running = [{"id": i, "action": "save"} for i, s in out.prior.items() if s in ("Running", "RunningCritical")]
    call(site, host, "patch_drain", {"vms": running, "cluster_drain": host.cluster is not None, "timeout_s": 900})
    answer = call(site, host, "patch_install_start", install_params(package_path))
    assert answer["state"] == "started"
    for _ in range(240):
        answer = call(site, host, "patch_install_status", status_params())
        if answer["state"] == "done":
            break
        step(site, 30)
    out.install = answer
    if answer["exit_code"] not in (0, 3010, 1641, 0x00240006):
        out.stopped_at = "install"
        return out
    while out.reboots < 3:
        before = call(site, host, "patch_reboot", {"delay_s": 30, "comment": "test"})["last_boot"]
        out.reboots += 1
        if wait_for(site, lambda: host.reachability() == "down", 600) is None:
            raise AssertionError("the host never went down")
        if wait_for(site, lambda: vmms_up(host), 3600) is None:
            out.came_back = False
            out.stopped_at = "reboot"
            return out
        out.final = call(site, host, "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": None})
        assert out.final["last_boot"] != before
        if not out.final["pending_reboot"] and out.final["ubr"] >= target_ubr:
            break
    wait_for(site, lambda: not any(v.state == "Starting" for v in host.vms), 300)
    here = {vm.id for vm in host.vms}        # a clustered VM the drain moved runs on the other node
    todo = [{"id": i, "action": "start"} for i, s in out.prior.items() if s in ("Running", "RunningCritical") and i in here]
    out.restore = call(site, host, "patch_restore", {"vms": todo, "cluster_resume": host.cluster is not None,
                                                     "failback": "Immediate"})
    call(site, host, "patch_cleanup", {"task_name": TASK, "remove_package_path": package_path})
    return out
