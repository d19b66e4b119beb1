"""Typed calls to the shipped patch scripts on one host, and fresh snapshots of it.

Each method runs one ``patch_*.ps1`` through a reused WinRM shell (``HostSession``) with
its parameters as data (base64 JSON: a VM called ``a'; Stop-Computer -Force; '`` stays a
name) and reads the one JSON document it prints, as docs/patching.md "Script contract"
fixes it. A failure to reach the host or an answer that is not what the contract says is a
:class:`~hvconsole.remote.errors.RemoteError`; per-item failures (one VM that would not
save) are data inside the answer. ``snapshot()`` never raises: an unreachable host is a
``reachable: false`` snapshot, which is exactly what the reboot wait looks for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, parse_time
from hvconsole.remote.answer import json_document
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.session import ScriptResult
from hvconsole.remote.target import CancelToken

# Real seconds each call may take on the wire. Hashing a large package or saving many VMs
# takes minutes on a real host; the drain and restore calls add their own timeout_s.
TIMEOUTS_S = {"patch_preflight": 180.0, "patch_stage_check": 900.0, "patch_install_start": 180.0,
              "patch_install_status": 90.0, "patch_reboot": 90.0, "patch_cleanup": 120.0,
              "patch_drain": 120.0, "patch_restore": 120.0}


class ScriptRunner(Protocol):
    """What runs a shipped script on the host (``HostSession`` in production)."""

    def run_script(self, script: str, params: Mapping[str, Any], *, timeout_s: float,
                   cancel: CancelToken | None = None) -> ScriptResult: ...

    def close(self) -> None: ...


class Snapshotter(Protocol):
    """What polls the host (``Collector`` in production); ``poll`` never raises."""

    def poll(self, cancel: CancelToken | None = None) -> Snapshot: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StageCheck:
    exists: bool
    size: int | None
    sha256: str | None
    matches: bool | None


@dataclass(frozen=True, slots=True)
class InstallStatus:
    state: str                      # started | running | done | not-found
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    method: str | None = None
    task_state: str | None = None
    last_task_result: int | None = None

    def evidence(self) -> dict[str, Any]:
        return {"state": self.state, "exit_code": self.exit_code, "method": self.method,
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at),
                "task_state": self.task_state, "last_task_result": self.last_task_result}


@dataclass(frozen=True, slots=True)
class RebootAnswer:
    scheduled: bool
    last_boot: datetime | None


class PatchHost:
    """The patch scripts and the collector of one host. One thread at a time."""

    def __init__(self, name: str, runner: ScriptRunner, snapshotter: Snapshotter,
                 cancel: CancelToken | None = None):
        self.name = name
        self._runner = runner
        self._snapshotter = snapshotter
        self._cancel = cancel

    def close(self) -> None:
        for closeable in (self._runner, self._snapshotter):
            with contextlib.suppress(Exception):    # closing is best effort: the host may be rebooting
                closeable.close()

    # -- reading -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self._snapshotter.poll(self._cancel)

    def preflight(self, staging_dir: str, package_file: str | None, required_free_mb: int,
                  live_migrations: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """``live_migrations``: ``[{id, destination}]`` the plan would move, which the
        script checks with Compare-VM (``preflight.planned_live_migrations``)."""
        doc = self._call("patch_preflight", {"staging_dir": staging_dir, "package_file": package_file,
                                             "required_free_mb": int(required_free_mb),
                                             "live_migrations": list(live_migrations or [])})
        for key in ("is_admin", "build", "ubr", "services", "vms"):
            if key not in doc:
                raise self._bad("patch_preflight", f"has no {key!r}")
        doc["vms"] = _list(doc.get("vms"))
        doc["services"] = doc.get("services") or {}
        return doc

    def stage_check(self, path: str, sha256: str | None) -> StageCheck:
        doc = self._call("patch_stage_check", {"path": path, "sha256": sha256})
        sha = doc.get("sha256")
        return StageCheck(exists=bool(doc.get("exists")), size=_int_or_none(doc.get("size")),
                          sha256=sha.lower() if isinstance(sha, str) else None,
                          matches=None if doc.get("matches") is None else bool(doc.get("matches")))

    def install_status(self, task_name: str, result_path: str) -> InstallStatus:
        doc = self._call("patch_install_status", {"task_name": task_name, "result_path": result_path})
        return self._install(doc, "patch_install_status", ("done", "running", "not-found"))

    def audit(self, params: Mapping[str, Any], *, timeout_s: float,
              cancel: CancelToken | None = None) -> dict[str, Any]:
        """The read-only ``audit.ps1`` of the health check (docs/health-check.md) through
        this host's shell, with the caller's deadline and cancel (the patch steps bound it
        tighter than the other calls). Raises :class:`RemoteError` like the others."""
        result = self._runner.run_script("audit", params, timeout_s=timeout_s, cancel=cancel or self._cancel)
        return json_document(result, host=self.name, script="audit")

    # -- acting --------------------------------------------------------------------------

    def drain(self, vms: list[dict[str, Any]], cluster_drain: bool, timeout_s: float) -> dict[str, Any]:
        doc = self._call("patch_drain", {"vms": vms, "cluster_drain": cluster_drain, "timeout_s": int(timeout_s)},
                         extra_s=timeout_s)
        doc["vms"] = _list(doc.get("vms"))
        return doc

    def install_start(self, package_path: str, task_name: str, result_path: str,
                      method: str = "auto") -> InstallStatus:
        doc = self._call("patch_install_start", {"package_path": package_path, "task_name": task_name,
                                                 "result_path": result_path, "method": method})
        return self._install(doc, "patch_install_start", ("started", "running", "done"))

    def reboot(self, delay_s: int, comment: str) -> RebootAnswer:
        doc = self._call("patch_reboot", {"delay_s": int(delay_s), "comment": comment})
        return RebootAnswer(bool(doc.get("scheduled")), _time_or_none(doc.get("last_boot")))

    def restore(self, vms: list[dict[str, Any]], cluster_resume: bool, failback: str,
                timeout_s: float) -> dict[str, Any]:
        doc = self._call("patch_restore", {"vms": vms, "cluster_resume": cluster_resume, "failback": failback},
                         extra_s=timeout_s)
        doc["vms"] = _list(doc.get("vms"))
        return doc

    def cleanup(self, task_name: str, remove_package_path: str | None) -> dict[str, Any]:
        return self._call("patch_cleanup", {"task_name": task_name, "remove_package_path": remove_package_path})

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, script: str, params: Mapping[str, Any], extra_s: float = 0.0) -> dict[str, Any]:
        result = self._runner.run_script(script, params, timeout_s=TIMEOUTS_S[script] + extra_s,
                                         cancel=self._cancel)
        return json_document(result, host=self.name, script=script)

    def _install(self, doc: Mapping[str, Any], script: str, states: tuple[str, ...]) -> InstallStatus:
        state = doc.get("state")
        if state not in states:
            raise self._bad(script, f"has state {str(state)[:40]!r}, expected one of {', '.join(states)}")
        try:
            return InstallStatus(state=state, exit_code=_int_or_none(doc.get("exit_code")),
                                 started_at=_time_or_none(doc.get("started_at")),
                                 finished_at=_time_or_none(doc.get("finished_at")),
                                 method=_str_or_none(doc.get("method")), task_state=_str_or_none(doc.get("task_state")),
                                 last_task_result=_int_or_none(doc.get("last_task_result")))
        except ValueError as exc:
            raise self._bad(script, str(exc)) from None

    def _bad(self, script: str, problem: str) -> RemoteError:
        return RemoteError("protocol", f"the answer of {script} from {self.name} {problem}")


def _list(value: object) -> list[Any]:
    """PowerShell 5.1 prints a lone item without brackets and may wrap lists as
    ``{"value": [...], "Count": n}`` (hyperv-notes §9)."""
    if value is None:
        return []
    if isinstance(value, Mapping) and isinstance(value.get("value"), list) and "Count" in value:
        return list(value["value"])
    return list(value) if isinstance(value, list) else [value]


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    return int(value)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _time_or_none(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
