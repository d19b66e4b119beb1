"""The simulated answers of the patch scripts (docs/patching.md, "Script contract";
``remote/scripts/patch_*.ps1``), registered with the host agent: ``patch_preflight``,
``patch_stage_check``, ``patch_install_start``, ``patch_install_status``, ``patch_reboot``
and ``patch_cleanup`` here; ``patch_drain`` and ``patch_restore`` in ``patch_vms``.

Each handler checks its parameters as its script does (``patch_common``), then reads the
host before it acts and answers with the script's fields, so calling it again never does
anything twice: install_start reports ``done`` when the result file exists and ``running``
while the task runs; reboot does not schedule a second shutdown (shutdown.exe's 1190).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..model.host import SimHost
from ..model.host_patch import TASK_HAS_NOT_RUN, TASK_RUNNING
from ..model.installer import METHODS
from ..model.load import unit
from .host_agent import Handler, ScriptAnswer, ScriptFailure, register_script_handler
from .patch_common import (
    as_list,
    clamped_int,
    find_vm,
    finish,
    guid,
    host_name,
    host_time,
    hvc_path,
    package_file,
    params_error,
    prop,
    ps_int,
    ps_string,
    sha256_param,
    task_name,
    vmms_failure,
)
from .patch_vms import handle_drain, handle_restore
from .probe import probe_profile

HASH_BYTES_PER_S = 400e6        # Get-FileHash on a server's disk
REBOOT_DOWN_S = (120.0, 300.0)  # from "going down" to WinRM answering again
SHUTDOWN_SCHEDULED = 1190       # ERROR_SHUTDOWN_IS_SCHEDULED
SHUTDOWN_IN_PROGRESS = 1115     # ERROR_SHUTDOWN_IN_PROGRESS
ENDED_WITHOUT_RESULT = 0x80004005
DEFAULT_COMMENT = "hvconsole: planned restart to complete an update"
TASKS_DIR = "C:\\hvconsole\\tasks"
WRAPPER_TEXT = "# hvconsole install wrapper (simulated host: the installer is simulated)\r\n"


def _t(host: SimHost, now: datetime) -> float:
    assert host.site is not None
    return host.site.t_of(now)


def _hash_seconds(size: int | None) -> float:
    return 0.0 if size is None else size / HASH_BYTES_PER_S


# -- patch_preflight -------------------------------------------------------------------

def handle_preflight(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    staging_dir = hvc_path(raw.get("staging_dir"), "staging_dir")
    package = None if raw.get("package_file") is None else package_file(raw.get("package_file"))
    required = 0 if raw.get("required_free_mb") is None else max(0, ps_int(raw["required_free_mb"], "required_free_mb"))
    migrations = [(guid(prop(item, "id")), host_name(prop(item, "destination")))
                  for item in as_list(raw.get("live_migrations")) if item is not None]
    t = _t(host, now)
    warnings: list[str] = []
    free_mb = round(host.system_drive_free_mb - t / 3600.0 * 4.0 - host.patch.drive.used_bytes() / 2**20, 1)
    services = dict(host.services(t))
    services.update(Schedule="Running", TrustedInstaller="Running" if host.patch.installer_running() else "Stopped")
    vms: list[dict[str, Any]] = []
    problem = vmms_failure(host, t)
    if problem is not None:
        warnings.append("vms: " + problem)
    else:
        vms = [_preflight_vm(host, vm.sample(t), vm.merging, vm.checkpoints) for vm in host.vms]
    migration = _migration_readiness(host, migrations, problem)
    staged, hashed = None, None
    if package is not None:
        path = f"{staging_dir}\\{package}"
        hashed = host.patch.drive.size(path)
        if hashed is not None:
            staged = {"path": path, "size": hashed, "sha256": host.patch.drive.sha256(path)}
    doc = {
        "is_admin": probe_profile(host).is_admin,
        "product": host.product, "build": host.build, "ubr": host.ubr,
        "last_boot": host_time(host, host.last_boot_t),
        "pending_reboot": host.pending_reboot,
        "pending_reboot_reasons": ["CBS", "PendingFileRename"] if host.pending_reboot else [],
        "services": services,
        "system_drive_free_mb": free_mb, "staging_drive_free_mb": free_mb,
        "space_ok": free_mb >= required,
        "cluster": _cluster(host),
        "vms": vms,
        "staged": staged,
        "migration": migration,
        "warnings": warnings,
    }
    seconds = (1.2 + 1.3 * unit(host.seed, 63, int(t)) + 0.02 * len(host.vms) + _hash_seconds(hashed)
               + 0.8 * len(migrations))      # Compare-VM asks the destination
    return finish(host, doc, seconds)


def _migration_readiness(host: SimHost, migrations: list[tuple[str, str]], vmms: str | None) -> dict[str, Any] | None:
    """patch_preflight's Get-MigrationReadiness: Compare-VM -DestinationHost per planned
    live migration, which fails as the migration itself would from a remote session."""
    doc: dict[str, Any] = {"enabled": None, "authentication": None, "checks": []}
    if not migrations:
        return doc
    if vmms is not None:
        return None                  # the probe failed: a warning was added already
    doc.update(enabled=host.migration_enabled, authentication=host.migration_authentication)
    for vm_id, dest in migrations:
        vm = find_vm(host, vm_id)
        check: dict[str, Any] = {"id": vm_id, "name": None if vm is None else vm.name, "destination": dest,
                                 "ok": False, "incompatibilities": [], "skipped_reason": None, "error": None}
        if vm is None:
            check.update(ok=True, skipped_reason="not on this host")
        elif vm.is_clustered:
            check.update(ok=True, skipped_reason="clustered: the cluster node drain moves it")
        elif not host.migration_enabled:
            check["error"] = "live migration is not enabled on this host"
        else:
            check["error"] = host.remote_migration_problem(dest)
            check["ok"] = check["error"] is None
        doc["checks"].append(check)
    return doc


def _cluster(host: SimHost) -> dict[str, Any] | None:
    if host.cluster is None or host.site is None:
        return None
    peers = [h for h in host.site_hosts.values() if h is not host and h.cluster is not None
             and h.cluster.name == host.cluster.name]
    return {"name": host.cluster.name, "node_state": host.cluster.node_state,
            "drain_status": host.cluster.drain_status,
            "other_nodes": [{"name": h.name, "state": h.cluster.node_state} for h in peers if h.cluster is not None],
            "bitlocker_csvs": host.cluster.bitlocker_csvs}


def _preflight_vm(host: SimHost, s: Mapping[str, Any], merging: bool, checkpoints: int) -> dict[str, Any]:
    backup_t = s.get("last_backup_t")
    state = s["state"]
    return {"id": s["id"], "name": s["name"], "state": state,
            "heartbeat": None if state.startswith("Off") else s["heartbeat"],
            "automatic_start_action": s["automatic_start_action"],
            "automatic_stop_action": s["automatic_stop_action"], "is_clustered": s["is_clustered"],
            "merging": merging, "checkpoints": checkpoints,
            "last_backup": None if backup_t is None else host_time(host, backup_t),
            "confidential": s.get("confidential")}


# -- patch_stage_check -----------------------------------------------------------------

def handle_stage_check(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    path = hvc_path(raw.get("path"), "path")
    expected = sha256_param(raw.get("sha256"))
    size = host.patch.drive.size(path)
    doc: dict[str, Any] = {"exists": False, "size": None, "sha256": None,
                           "matches": None if expected is None else False}
    if size is not None:
        doc.update(exists=True, size=size, sha256=host.patch.drive.sha256(path))
        if expected is not None:
            doc["matches"] = doc["sha256"] == expected
    return finish(host, doc, 0.3 + _hash_seconds(size))


# -- patch_install_start / patch_install_status ----------------------------------------

def _read_result(host: SimHost, path: str) -> dict[str, Any] | None:
    try:
        result = host.patch.read_result(path)
    except (ValueError, UnicodeDecodeError):
        raise ScriptFailure("Invalid JSON primitive: the result file cannot be read.", "result") from None
    if result is None:
        return None
    steps = [{"cab": ps_string(s.get("cab")), "exit_code": s.get("exit_code")}
             for s in (result.get("steps") or []) if isinstance(s, dict)]
    return {"exit_code": result.get("exit_code"), "started_at": result.get("started_at"),
            "finished_at": result.get("finished_at"), "method": ps_string(result.get("method")),
            "steps": steps, "log": ps_string(result.get("log"))}


def handle_install_start(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    package_path = hvc_path(raw.get("package_path"), "package_path")
    if not re.search(r"\.(msu|cab)$", package_path, re.I):
        raise ScriptFailure("package_path must name a .msu or .cab file", "params")
    name = task_name(raw.get("task_name"))
    result_path = hvc_path(raw.get("result_path"), "result_path")
    if not re.search(r"\.json$", result_path, re.I):
        raise ScriptFailure("result_path must name a .json file", "params")
    method = "auto" if raw.get("method") is None else ps_string(raw.get("method"))
    if method not in METHODS:
        raise ScriptFailure(f"method must be one of: {', '.join(METHODS)}", "params")
    t = _t(host, now)
    task = host.patch.task(name)
    result = _read_result(host, result_path)
    doc: dict[str, Any] = {"state": None, "exit_code": None, "started_at": None, "finished_at": None,
                           "method": None, "steps": [], "log": None}
    if result is not None:
        doc.update(state="done", **result)
    elif task is not None and task.state in ("Running", "Queued"):
        doc["state"] = "running"
    else:
        task = host.patch.register_task(name, package_path, result_path, method)
        wrapper, inputs = task_files(name)
        host.patch.drive.write(wrapper, WRAPPER_TEXT.encode("utf-8"))
        host.patch.drive.write(inputs, json.dumps({"package_path": package_path, "result_path": result_path,
                                                   "method": method, "work_dir": f"C:\\hvconsole\\work\\{name}"},
                                                  separators=(",", ":")).encode("utf-8"))
        host.patch.run_task(task, t)
        doc["state"] = "started"
    return finish(host, doc, 0.9 + 0.8 * unit(host.seed, 64, int(t)))


def handle_install_status(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    name = task_name(raw.get("task_name"))
    result_path = hvc_path(raw.get("result_path"), "result_path")
    t = _t(host, now)
    doc: dict[str, Any] = {"state": "not-found", "exit_code": None, "started_at": None, "finished_at": None,
                           "method": None, "task_state": None, "last_task_result": None, "steps": [], "log": None}
    task = host.patch.task(name)
    if task is not None:
        doc.update(task_state=task.state, last_task_result=task.last_result)
    result = _read_result(host, result_path)
    if result is not None:
        doc.update(state="done", **result)
    elif task is not None:
        if task.state in ("Running", "Queued") or task.last_result in (TASK_HAS_NOT_RUN, TASK_RUNNING):
            doc["state"] = "running"
        else:       # the task ended without writing its result (killed by a reboot, time limit)
            doc.update(state="done", exit_code=task.last_result or ENDED_WITHOUT_RESULT,
                       started_at=host_time(host, task.started_t),
                       log=f"the install task ended without writing its result file (last task result "
                           f"{task.last_result})")
    return finish(host, doc, 0.35 + 0.3 * unit(host.seed, 65, int(t)))


# -- patch_reboot ----------------------------------------------------------------------

def _safe_comment(value: object) -> str:
    if value is None:
        return DEFAULT_COMMENT
    clean = re.sub(r'[\x00-\x1f\x7f"\\]', " ", ps_string(value)).strip()[:500]
    return clean or DEFAULT_COMMENT


def handle_reboot(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """shutdown /r /t <delay_s> /d p:2:17 /c <comment>: the call returns, the host goes later."""
    delay_s = clamped_int(raw, "delay_s", 30, 10, 600)
    comment = _safe_comment(raw.get("comment"))
    site = host.site
    assert site is not None
    t = _t(host, now)
    last_boot = host_time(host, host.last_boot_t)
    if host.power != "up":
        code = SHUTDOWN_IN_PROGRESS
    elif host.patch.reboot_at_t is not None:
        code = SHUTDOWN_SCHEDULED
    else:
        code = 0
        fails = host.patch.no_return
        low, high = REBOOT_DOWN_S
        down_s = low + (high - low) * unit(host.seed, 62, host.reboots)
        host.patch.reboot_at_t, host.patch.reboot_comment = t + delay_s, comment
        site.at(t + delay_s, lambda _t: host.reboot(planned=True, down_s=down_s, fail=fails))
    scheduled = code in (0, SHUTDOWN_SCHEDULED)
    doc = {"scheduled": scheduled, "already_scheduled": code == SHUTDOWN_SCHEDULED, "last_boot": last_boot,
           "delay_s": delay_s, "comment": comment, "exit_code": code,
           "error": None if scheduled else f"shutdown.exe failed with exit code {code}"}
    return finish(host, doc, 0.4)


# -- patch_cleanup ---------------------------------------------------------------------

def handle_cleanup(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
    """Remove the install task and its files (never while it runs) and, when asked, the
    staged package and its ``.partial``. "Removed" means "not there any more"; the result
    file stays (it is evidence)."""
    name = task_name(raw.get("task_name"))
    package = raw.get("remove_package_path")
    package = None if package is None else hvc_path(package, "remove_package_path")
    if package is not None and not re.search(r"\.(msu|cab)\Z", package, re.IGNORECASE):
        raise params_error("remove_package_path must name a .msu or .cab file")
    warnings: list[str] = []
    task = host.patch.task(name)
    if task is not None and task.state in ("Running", "Queued"):
        warnings.append("the install task is still running: left in place")
        task_removed = False
    else:
        host.patch.unregister_task(name)
        for leftover in task_files(name):
            host.patch.drive.delete(leftover)
        task_removed = True
    package_removed = None
    if package is not None:
        for path in (package, package + ".partial"):
            host.patch.drive.delete(path)
        package_removed = True
    doc = {"task_removed": task_removed, "package_removed": package_removed, "warnings": warnings}
    return finish(host, doc, 0.5)


def task_files(name: str) -> tuple[str, str]:
    """The wrapper and its inputs that patch_install_start writes beside the task."""
    return f"{TASKS_DIR}\\{name}.ps1", f"{TASKS_DIR}\\{name}.json"


HANDLERS = {
    "patch_preflight": handle_preflight,
    "patch_stage_check": handle_stage_check,
    "patch_drain": handle_drain,
    "patch_install_start": handle_install_start,
    "patch_install_status": handle_install_status,
    "patch_reboot": handle_reboot,
    "patch_restore": handle_restore,
    "patch_cleanup": handle_cleanup,
}
# The scripts that change a host: the host remembers when a patch run last worked on it, so
# the demo's background activity keeps its hands off for the rest of the run's story
# (demo.PATCH_QUIET_S), whatever the soak length or the speed.
CHANGING = frozenset({"patch_drain", "patch_install_start", "patch_reboot", "patch_restore"})


def _marking(handler: Handler) -> Handler:
    def handle(host: SimHost, raw: Mapping[str, Any], now: datetime) -> ScriptAnswer:
        host.patch.worked_t = _t(host, now)
        return handler(host, raw, now)
    return handle


for _name, _handler in HANDLERS.items():
    register_script_handler(_name, _marking(_handler) if _name in CHANGING else _handler)
