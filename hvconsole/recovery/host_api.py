"""Typed calls to the recovery scripts on one host (docs/recovery.md "Script contract").

Parameters travel as data (base64 JSON through the loader): the VM is named by its id,
never by its name, so a VM called ``a'; Stop-Computer; '`` is never spliced anywhere.
A failure to reach the host, or an answer that is not what the contract says, is a
:class:`~hvconsole.remote.errors.RemoteError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from hvconsole.patch.host_api import ScriptRunner
from hvconsole.remote.answer import json_document
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.target import CancelToken

SCRIPTS = ("recover_inspect", "recover_vm", "recover_worker", "recover_vmms")
# Real seconds each call may take beyond its own host-side waits (read, start PowerShell,
# load the Hyper-V module). A real host loading the module cold takes several seconds.
OVERHEAD_S = 45.0


class RecoveryHost:
    """The recovery scripts of one host. One thread at a time."""

    def __init__(self, name: str, runner: ScriptRunner, *, speed: float = 1.0, cancel: CancelToken | None = None):
        self.name = name
        self._runner = runner
        self._speed = speed if speed > 0 else 1.0
        self.cancel = cancel

    def close(self) -> None:
        with contextlib.suppress(Exception):    # best effort: the host may not answer
            self._runner.close()

    def deadline_s(self, host_wait_s: float) -> float:
        """The real-time deadline of a call whose host side may wait ``host_wait_s``."""
        return OVERHEAD_S + host_wait_s / self._speed

    def inspect(self, vm_id: str, events_since: str | None, *, max_events: int = 50,
                vm_query_timeout_ms: int = 10000) -> dict[str, Any]:
        return self._call("recover_inspect", {"vm_id": vm_id, "events_since": events_since,
                                              "max_events": int(max_events),
                                              "vm_query_timeout_ms": int(vm_query_timeout_ms)},
                          host_wait_s=vm_query_timeout_ms / 1000.0)

    def vm_action(self, vm_id: str, action: str, wait_s: int) -> dict[str, Any]:
        doc = self._call("recover_vm", {"vm_id": vm_id, "action": action, "wait_s": int(wait_s)}, host_wait_s=wait_s)
        return self._require(doc, "recover_vm", ("done", "state_before"))

    def end_worker(self, vm_id: str, expected_pid: int | None) -> dict[str, Any]:
        doc = self._call("recover_worker", {"vm_id": vm_id, "expected_pid": expected_pid}, host_wait_s=40)
        return self._require(doc, "recover_worker", ("ended", "pid"))

    def restart_vmms(self, expected_pid: int | None, vm_query_timeout_ms: int = 15000) -> dict[str, Any]:
        doc = self._call("recover_vmms", {"expected_pid": expected_pid, "vm_query_timeout_ms": vm_query_timeout_ms},
                         host_wait_s=120 + vm_query_timeout_ms / 1000.0)
        return self._require(doc, "recover_vmms", ("restarted", "status_after"))

    def _call(self, script: str, params: Mapping[str, Any], host_wait_s: float) -> dict[str, Any]:
        result = self._runner.run_script(script, params, timeout_s=self.deadline_s(host_wait_s), cancel=self.cancel)
        return json_document(result, host=self.name, script=script)

    def _require(self, doc: dict[str, Any], script: str, keys: tuple[str, ...]) -> dict[str, Any]:
        for key in keys:
            if key not in doc:
                raise RemoteError("protocol", f"the answer of {script} from {self.name} has no {key!r}")
        return doc
