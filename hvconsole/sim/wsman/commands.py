"""One running command of a shell, and how its output is handed out over Receive requests.

A Receive waits (up to the request's OperationTimeout) for the first output, then takes
whatever else is immediately available, and returns as much as fits in the reply's
MaxEnvelopeSize. What does not fit waits for the next Receive, and the command reports
``Running`` until every byte is delivered, exactly as a Windows host does.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from .runner import ProcessOutput, SimProcess

# Largest raw chunk in one rsp:Stream element; bigger reads are split over several elements.
STREAM_CHUNK = 16 * 1024
# Exit code reported for a process that ended without one (it was terminated): Windows'
# STATUS_CONTROL_C_EXIT, what a console process stopped by ctrl_c returns.
TERMINATED_EXIT_CODE = 0xC000013A
# A Receive polls the process in slices this long so a Delete, Signal or stop() is noticed.
_POLL_SLICE_S = 0.25


def b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


@dataclass(frozen=True, slots=True)
class ReceiveBatch:
    chunks: list[tuple[str, bytes]]     # (stream name, raw bytes), in output order
    exit_code: int | None               # set once the command is Done and fully delivered


class Command:
    """A process started by a Command request, with its undelivered output."""

    def __init__(self, command_id: str, process: SimProcess) -> None:
        self.command_id = command_id
        self._process = process
        self._pending: deque[tuple[str, bytes]] = deque()
        self._process_done = False
        self._exit_code: int | None = None
        self._cancelled = threading.Event()
        # One Receive at a time drains the process; Signal does not take it (it must be able
        # to stop a command whose Receive is waiting).
        self._receive_lock = threading.Lock()
        self.finished = False        # Done was delivered; further Receives are refused

    def write_stdin(self, data: bytes, end: bool) -> None:
        self._process.write_stdin(data, end)

    def terminate(self) -> None:
        self._cancelled.set()
        self._process.terminate()

    def receive(self, timeout_s: float, budget: int, stream_overhead: int) -> ReceiveBatch:
        """Output for one ReceiveResponse whose streams may take ``budget`` bytes."""
        with self._receive_lock:
            deadline = time.monotonic() + max(0.0, timeout_s)
            while not self._pending and not self._process_done and not self._cancelled.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._absorb(self._process.read(min(remaining, _POLL_SLICE_S)))
            # Take what else is ready now, so one reply carries a burst of output.
            while not self._process_done and self._pending_cost(stream_overhead) < budget:
                if not self._absorb(self._process.read(0.0)):
                    break
            chunks = self._take(budget, stream_overhead)
            done = self._process_done and not self._pending
            if done:
                self.finished = True
            exit_code = None
            if done:
                exit_code = TERMINATED_EXIT_CODE if self._exit_code is None else self._exit_code
            return ReceiveBatch(chunks, exit_code)

    def _absorb(self, out: ProcessOutput) -> bool:
        """Queue new output; True if anything changed."""
        changed = False
        for name, data in (("stdout", out.stdout), ("stderr", out.stderr)):
            for start in range(0, len(data), STREAM_CHUNK):
                self._pending.append((name, data[start:start + STREAM_CHUNK]))
                changed = True
        if out.done and not self._process_done:
            self._process_done = True
            self._exit_code = out.exit_code
            changed = True
        return changed

    def _pending_cost(self, stream_overhead: int) -> int:
        return sum(b64_len(len(data)) + stream_overhead for _, data in self._pending)

    def _take(self, budget: int, stream_overhead: int) -> list[tuple[str, bytes]]:
        taken: list[tuple[str, bytes]] = []
        used = 0
        while self._pending:
            name, data = self._pending[0]
            cost = b64_len(len(data)) + stream_overhead
            if used + cost <= budget:
                taken.append(self._pending.popleft())
                used += cost
                continue
            # Split the chunk: as many whole base64 quanta as still fit.
            room = (budget - used - stream_overhead) // 4 * 3
            if room > 0:
                taken.append((name, data[:room]))
                self._pending[0] = (name, data[room:])
            break
        return taken


class RefusedProcess:
    """A process that failed to start the way cmd.exe reports it (no runner was involved)."""

    def __init__(self, stderr: bytes, exit_code: int) -> None:
        self._stderr = stderr
        self._exit_code = exit_code

    def write_stdin(self, data: bytes, end: bool) -> None:
        pass

    def read(self, timeout_s: float) -> ProcessOutput:
        stderr, self._stderr = self._stderr, b""
        return ProcessOutput(b"", stderr, True, self._exit_code)

    def terminate(self) -> None:
        pass
