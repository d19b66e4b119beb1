"""The shells an endpoint holds, with Windows' per-user quotas, idle expiry and run time.

Windows defaults: 30 shells per user (MaxShellsPerUser) and 1500 operations per user
(MaxConcurrentOperationsPerUser). A text shell counts every command it ever ran as an
operation until the shell is deleted: a Signal does not release it (MS-WSMV product behaviour
note 118; https://github.com/diyan/pywinrm/issues/124), so a shell reused for thousands of
commands eventually hits the quota and must be recreated. Idle shells expire after their
IdleTimeOut. A shell ends after MaxShellRunTime (28,800,000 ms, MS-WSMV 2.2.4.42 WinrsType
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/7ffb4acd-cf01-4fbe-9e48-7746f5001957)
however busy it is, and from then on a request naming it gets a bare HTTP 400, not the
"shell not found" fault (https://github.com/diyan/pywinrm/issues/325): modelled by
:class:`ShellExpired`. A shell belongs to the user who created it; another user sees "shell
not found".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hvconsole.core.guid import random_guid

from .commands import Command, RefusedProcess
from .runner import ProcessRunner, SimProcess

log = logging.getLogger(__name__)

MAX_SHELLS_PER_USER = 30
MAX_OPERATIONS_PER_USER = 1500
IDLE_TIMEOUT_S = 7200.0
MAX_SHELL_RUN_TIME_S = 28800.0
# Ended shells remembered so that later requests naming them still get the 400 (bounded:
# a client that never stops asking about old shells must not grow the table).
ENDED_SHELLS_KEPT = 256
# cmd.exe's limit on a command line; longer ones fail without starting anything.
COMMAND_LINE_MAX = 8191
COMMAND_LINE_TOO_LONG = b"The command line is too long.\r\n"


class ShellNotFound(LookupError):
    def __init__(self, shell_id: str) -> None:
        super().__init__(shell_id)
        self.shell_id = shell_id


class ShellExpired(LookupError):
    """The shell outlived MaxShellRunTime: Windows answers a bare HTTP 400."""

    def __init__(self, shell_id: str) -> None:
        super().__init__(shell_id)
        self.shell_id = shell_id


class CommandNotFound(LookupError):
    pass


class RunnerFailed(RuntimeError):
    """The process runner raised instead of returning a process."""


class QuotaExceeded(RuntimeError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} quota of {limit} exceeded")
        self.what = what          # "shells" or "operations"
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ShellOptions:
    """What a Create request asked for."""

    environment: Mapping[str, str] = field(default_factory=dict)
    codepage: int = 437
    noprofile: bool = False
    working_directory: str | None = None
    idle_timeout_s: float | None = None
    input_streams: str = "stdin"
    output_streams: str = "stdout stderr"


@dataclass(frozen=True, slots=True)
class ShellInfo:
    """A read-only view of a shell, for tests and diagnostics."""

    shell_id: str
    owner: str
    environment: Mapping[str, str]
    codepage: int
    noprofile: bool
    commands_running: int
    operations: int


@dataclass(eq=False)
class Shell:
    """One open shell: who opened it and from where, its options, its commands."""

    shell_id: str
    owner: str
    client_ip: str
    options: ShellOptions
    idle_timeout_s: float
    last_used: float                 # the table's clock; created counts as used
    created: float = 0.0             # the table's clock
    commands: dict[str, Command] = field(default_factory=dict)
    operations: int = 1              # the shell itself is one operation

    def info(self) -> ShellInfo:
        o = self.options
        return ShellInfo(self.shell_id, self.owner, dict(o.environment), o.codepage, o.noprofile,
                         len(self.commands), self.operations)


def new_id() -> str:
    return random_guid().upper()


class ShellTable:
    """All shells of one endpoint. Thread-safe."""

    def __init__(self, runner: ProcessRunner, *, max_shells_per_user: int = MAX_SHELLS_PER_USER,
                 max_operations_per_user: int = MAX_OPERATIONS_PER_USER,
                 idle_timeout_s: float = IDLE_TIMEOUT_S,
                 max_shell_run_time_s: float = MAX_SHELL_RUN_TIME_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}
        self.max_shells_per_user = max_shells_per_user
        self.max_operations_per_user = max_operations_per_user
        self.idle_timeout_s = idle_timeout_s
        self.max_shell_run_time_s = max_shell_run_time_s
        self._ended: OrderedDict[str, str] = OrderedDict()   # shell id -> owner, past its run time
        self._clock = clock

    def create(self, owner: str, client_ip: str, options: ShellOptions) -> Shell:
        self.expire_idle()
        with self._lock:
            mine = [s for s in self._shells.values() if s.owner == owner]
            if len(mine) >= self.max_shells_per_user:
                raise QuotaExceeded("shells", self.max_shells_per_user)
            if self._operations(mine) + 1 > self.max_operations_per_user:
                raise QuotaExceeded("operations", self.max_operations_per_user)
            idle = options.idle_timeout_s or self.idle_timeout_s
            now = self._clock()
            shell = Shell(new_id(), owner, client_ip, options, idle, now, created=now)
            self._shells[shell.shell_id] = shell
            return shell

    def get(self, shell_id: str | None, owner: str) -> Shell:
        self.expire_idle()
        with self._lock:
            shell = self._shells.get(shell_id or "")
            if shell is None or shell.owner != owner:
                self._raise_if_ended(shell_id, owner)
                raise ShellNotFound(shell_id or "")
            shell.last_used = self._clock()
            return shell

    def start_command(self, shell: Shell, command_line: str) -> Command:
        with self._lock:
            if shell.shell_id not in self._shells:
                # Deleted before the command arrived: nothing may run (a client told "shell
                # gone" retries in a new shell, so a script started here would run twice).
                raise ShellNotFound(shell.shell_id)
            mine = [s for s in self._shells.values() if s.owner == shell.owner]
            if self._operations(mine) + 1 > self.max_operations_per_user:
                raise QuotaExceeded("operations", self.max_operations_per_user)
            shell.operations += 1
        process: SimProcess
        if len(command_line) > COMMAND_LINE_MAX:
            process = RefusedProcess(COMMAND_LINE_TOO_LONG, 1)
        else:
            try:
                process = self._runner.start(command_line, dict(shell.options.environment),
                                             shell.options.codepage)
            except Exception as exc:
                log.exception("the process runner failed to start %r", command_line[:80])
                raise RunnerFailed(str(exc)) from exc
        command = Command(new_id(), process)
        with self._lock:
            if shell.shell_id not in self._shells:      # deleted while the process started
                command.terminate()
                raise ShellNotFound(shell.shell_id)
            shell.commands[command.command_id] = command
        return command

    def command(self, shell: Shell, command_id: str | None) -> Command:
        with self._lock:
            command = shell.commands.get(command_id or "")
        if command is None:
            raise CommandNotFound(command_id)
        return command

    def remove_command(self, shell: Shell, command_id: str) -> Command:
        with self._lock:
            command = shell.commands.pop(command_id, None)
        if command is None:
            raise CommandNotFound(command_id)
        command.terminate()
        return command

    def delete(self, shell_id: str | None, owner: str) -> None:
        with self._lock:
            shell = self._shells.get(shell_id or "")
            if shell is None or shell.owner != owner:
                self._raise_if_ended(shell_id, owner)
                raise ShellNotFound(shell_id or "")
            del self._shells[shell.shell_id]
        self._terminate(shell)

    def expire_idle(self) -> None:
        """End shells idle past their IdleTimeOut (forgotten: "shell not found") and shells
        past MaxShellRunTime (remembered: a bare 400)."""
        now = self._clock()
        with self._lock:
            expired = [s for s in self._shells.values() if now - s.last_used > s.idle_timeout_s]
            ended = [s for s in self._shells.values()
                     if now - s.created >= self.max_shell_run_time_s and s not in expired]
            for shell in expired + ended:
                del self._shells[shell.shell_id]
            for shell in ended:
                self._ended[shell.shell_id] = shell.owner
                while len(self._ended) > ENDED_SHELLS_KEPT:
                    self._ended.popitem(last=False)
        for shell in expired + ended:
            self._terminate(shell)

    def _raise_if_ended(self, shell_id: str | None, owner: str) -> None:
        if shell_id and self._ended.get(shell_id) == owner:
            raise ShellExpired(shell_id)

    def close_all(self) -> None:
        """Every shell and process is gone, as after a reboot or a service restart."""
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            self._terminate(shell)

    def infos(self) -> list[ShellInfo]:
        with self._lock:
            return [s.info() for s in self._shells.values()]

    @staticmethod
    def _operations(shells: list[Shell]) -> int:
        return sum(s.operations for s in shells)

    @staticmethod
    def _terminate(shell: Shell) -> None:
        for command in list(shell.commands.values()):
            command.terminate()
        shell.commands.clear()
