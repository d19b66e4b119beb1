"""The post-patch watch on the Verify page: the freeze detector keeps watching the patched
hosts for a recurrence period the admin chose (host minutes: a demo site runs faster). A
thread of its own polls each host (collector: deadline per poll) and feeds one detector;
the GUI gets a :class:`WatchStatus` through a queued signal after every round."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from hvconsole.core.detector import CRITICAL, Detector

from ..mailbox import Mailbox

POLL_HOST_S = 30.0          # host seconds between rounds (the monitor polls about as often)


@dataclass
class WatchStatus:
    hosts: list[str]
    remaining_s: float            # real seconds left
    rounds: int
    recurrences: list[str] = field(default_factory=list)     # "HV01: vm-heartbeat-lost on SQL-PROD-02"
    unreachable: list[str] = field(default_factory=list)
    finished: bool = False


class PostPatchWatch(QObject):
    status = Signal(object)

    def __init__(self, directory: Any, hosts: list[str], minutes: float, speed: float, parent: QObject | None = None):
        super().__init__(parent)
        self.directory, self.hosts = directory, list(hosts)
        self.real_s = max(1.0, minutes * 60.0 / speed)
        self.interval_s = max(0.2, POLL_HOST_S / speed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="post-patch-watch", daemon=True)
        # The watch thread posts; :attr:`status` is emitted on the GUI thread (ui/mailbox.py).
        self._mailbox = Mailbox(self.status.emit, self)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait_s: float = 0.0) -> None:
        self._stop.set()
        if wait_s:
            self._thread.join(wait_s)

    def _run(self) -> None:
        detector = Detector()
        collectors = {h: self.directory.collector(h) for h in self.hosts}
        recurrences: dict[str, str] = {}
        end = time.monotonic() + self.real_s
        rounds = 0
        try:
            while not self._stop.is_set():
                unreachable = []
                for host, collector in collectors.items():
                    snap = collector.poll()
                    if not snap.reachable:
                        unreachable.append(host)
                    for f in detector.feed(snap):
                        if f.severity == CRITICAL and f.active:
                            recurrences.setdefault(f"{f.kind}/{f.vm_id}",
                                                   f"{host}: {f.kind}" + (f" on {f.vm_name}" if f.vm_name else ""))
                rounds += 1
                left = max(0.0, end - time.monotonic())
                self._emit(WatchStatus(self.hosts, left, rounds, list(recurrences.values()), unreachable, left <= 0))
                if left <= 0 or self._stop.wait(min(self.interval_s, left)):
                    break
        finally:
            for c in collectors.values():
                c.close()

    def _emit(self, status: WatchStatus) -> None:
        try:
            self._mailbox.post(status)
        except RuntimeError:
            self._stop.set()
