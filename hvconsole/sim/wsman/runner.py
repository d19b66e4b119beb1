"""What the WS-Management endpoint asks of whoever runs the commands it receives.

The endpoint knows nothing of Hyper-V or PowerShell: a ``Command`` request becomes one
``ProcessRunner.start`` call, and the resulting ``SimProcess`` is fed stdin (``Send``), drained
(``Receive``) and stopped (``Signal``). The host agent (``hvconsole/sim/agent/host_agent.py``) is the
real implementation; the tests use a small scripted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProcessOutput:
    """What a process produced since the previous ``read``."""

    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None      # set when done


class SimProcess(Protocol):
    def write_stdin(self, data: bytes, end: bool) -> None: ...

    def read(self, timeout_s: float) -> ProcessOutput:
        """Wait up to ``timeout_s`` for new output or completion; return what is new."""
        ...

    def terminate(self) -> None: ...


class ProcessRunner(Protocol):
    def start(self, command_line: str, env: Mapping[str, str], codepage: int) -> SimProcess: ...
