"""Where a served simulated site says who serves it: the state file of ``hvconsole-sim serve
--state-file`` (which process, at what speed, where its clock stands, each host's URL and
credentials). Its own small module, without the simulator: the window reads it at start to
know whether a site is served already before anything of the simulator is imported.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TypeGuard

STATE_FILE_NAME = "demo-site.json"
_HOST_KEYS = ("host", "url", "user", "password")

def default_state_file() -> Path:
    """``$HVCONSOLE_HOME/demo-site.json``, else the platform's per-user runtime folder
    (``$XDG_RUNTIME_DIR/hvconsole`` on Linux): a place that is private and that a reboot
    clears, as it should for a file naming a process and holding passwords."""
    from hvconsole import paths  # late: keeps this module light for the GUI

    home = os.environ.get(paths.HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser() / STATE_FILE_NAME
    import warnings

    import platformdirs
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs falls back to /tmp/runtime-<uid> and says so;
        # that fallback is fine here, and a warning would only alarm the admin.
        warnings.simplefilter("ignore", UserWarning)
        return platformdirs.user_runtime_path(paths.APP_NAME, appauthor=False) / STATE_FILE_NAME


def remove_state_file(path: Path) -> bool:
    """Remove the state file if this process wrote it (never another server's)."""
    state = read_state(path, check_pid=False)
    if state is None or state.get("pid") != os.getpid():
        return False
    Path(path).unlink(missing_ok=True)
    return True


def read_state(path: Path | None = None, *, check_pid: bool = True) -> dict[str, Any] | None:
    """The whole state document, or None when the file is missing, unreadable, not a state
    file, or (with ``check_pid``) names a process that is no longer running."""
    try:
        doc = json.loads(Path(path or default_state_file()).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not is_state_document(doc):
        return None
    if check_pid and not pid_alive(doc["pid"]):
        return None
    return doc


def is_state_document(doc: Any) -> TypeGuard[dict[str, Any]]:
    """Has ``doc`` a state document's shape (a pid; hosts, each with a host name, URL, user
    and password as strings)? The demo's own process says the same document on its pipe;
    anything else from either is not ours, and is never half used."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int) or not isinstance(doc.get("hosts"), list):
        return False
    return all(isinstance(h, dict) and all(isinstance(h.get(k), str) for k in _HOST_KEYS) for h in doc["hosts"])


def read_state_file(path: Path | None = None) -> list[dict] | None:
    """The served hosts (``host``, ``url``, ``user``, ``password``) of a running
    ``hvconsole-sim serve --state-file``; None when there is none or it has died."""
    state = read_state(path)
    return None if state is None else list(state["hosts"])


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie is not)?"""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)              # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                  # exists, owned by someone else
    try:                             # Linux: a killed child not yet reaped is a zombie
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# Windows only, behind sys.platform (which mypy understands: on Linux it skips this block).
if sys.platform == "win32":
    def _pid_alive_windows(pid: int) -> bool:
        # os.kill(pid, 0) would *terminate* the process on Windows: ask the kernel instead.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)      # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5                # access denied: it exists
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259                           # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
