"""The window's demo site in a process of its own, both ends of its pipe.

The window is bound by one interpreter at start: building and serving the simulated site in
it competed with Qt, the WinRM client and the page for that interpreter, and every request's
server half ran in it too. In a child process the second core imports, builds and serves the
site while the window starts, and the hosts' answers cost the window only its client's half.

The window's end (:class:`DemoProcess`) starts ``hvconsole --serve-demo-child SITE SPEED``:
the bundle's own executable when frozen (``sys.executable`` is then the app, not Python),
else this interpreter straight into the child's end (:func:`child_command`). The child
(:func:`main`, in :mod:`.child_serve`: it imports nothing of the window's end) serves the site, writes
one JSON line on its stdout, the same document as a state file (``serve.state_document``:
its pid, speed, where its clock stands, each host's URL, user and password) or
``{"error": "..."}``, and then reads its stdin until end of file. Its stdin is a pipe only
the window holds: the window closing it (:meth:`DemoProcess.stop`), exiting, crashing or
being killed all end the child, on Windows too. The passwords travel only through the pipe,
never a file or a command line.

This module imports nothing of the simulator at its top: the window imports it early.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .child_serve import CHILD_FLAG
from .state_file import is_state_document

DEMO_SITE_NAMES = ("demo", "demo-patch")     # serve.DEMO_SITES, named without importing it
CONSOLE_TWIN = "hvconsole-cli"               # installer/hvconsole.spec's CLI_NAME, beside the app
READY_TIMEOUT_S = 30.0        # a cold start of a frozen bundle on a loaded, virus-scanned PC
CANCEL_LOOK_S = 0.1           # how often a wait for the child looks whether the window closed
STOP_WAIT_S = 2.0             # after its pipe closed, before the child is killed
_MAX_LINE = 1 << 20           # the first line is a few hundred bytes; anything else is not ours


class DemoProcessError(Exception):
    """The demo site's process failed, ended or did not answer in time (one sentence)."""


def child_command(site: str, speed: float) -> list[str]:
    """How to start the child: the frozen bundle's console twin (else its app) with the
    hidden argument, or this interpreter straight into :func:`main`. The twin, because the
    windowed app has no sys.stdin/sys.stdout objects on Windows (installer/hvconsole.spec);
    both executables share one entry point, and CREATE_NO_WINDOW keeps the twin's console
    from showing.

    From source, the child needs the standard library and this package only: it runs
    without the ``site`` module (``-S``: no site-packages, no ``.pth`` files, no editable
    install's finder) with the directory holding the package this module came from first
    on its path (the window's own code, whatever the working directory), and goes to
    :func:`main` without the command line's parser and modules. Its first line comes
    ~20 ms sooner (~15 % of its start; the first polls wait for it). The hidden argument
    stays on its command line: it names the process (tests find their children by it)."""
    args = [CHILD_FLAG, site, repr(float(speed))]
    if getattr(sys, "frozen", False):
        app = Path(sys.executable)
        twin = app.with_name(CONSOLE_TWIN + app.suffix)
        return [str(twin if twin.is_file() else app), *args]
    return [sys.executable, "-S", "-P", "-c", _FROM_SOURCE.format(root=str(Path(__file__).resolve().parents[2])), *args]


# The child from source (child_command): sys.argv is ["-c", CHILD_FLAG, SITE, SPEED].
# Only the package is looked up in ``root``, which then leaves the path: installed, ``root``
# is site-packages, whose other modules (an old backport's pathlib.py, say) must not come
# before the standard library's; -P: nor the working directory's (a json.py there, say).
_FROM_SOURCE = ("import sys; sys.path.insert(0, {root!r}); import hvconsole; del sys.path[0]; "
                "from hvconsole.sim.child_serve import main; raise SystemExit(main(sys.argv[2:]))")


class DemoProcess:
    """A started child serving the demo site. :meth:`ready` waits for its first line (call
    it off the GUI thread); :meth:`stop` ends it and reaps it (idempotent, bounded)."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self.proc = proc
        self._lines: queue.Queue[bytes] = queue.Queue(maxsize=1)
        self._stop_lock = threading.Lock()
        self._stopped = False
        # A thread of its own reads the first line: a deadline that works on Windows pipes
        # too (select() does not), and a child that hangs never holds the caller past it.
        threading.Thread(target=self._read_first_line, name="demo-child-reader", daemon=True).start()

    @classmethod
    def spawn(cls, site: str, speed: float) -> DemoProcess:
        """Start the child (an OSError when the executable cannot be started)."""
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            # python.exe is a console program: without this a console window flashes up.
            kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW
        # Its stderr is the window's own (its tracebacks land where the window's do), or the
        # null device when the window has none (the frozen windowed app on Windows):
        # subprocess would make a pipe whose reading end is closed, where every write fails.
        stderr = subprocess.DEVNULL if sys.stderr is None else None
        proc = subprocess.Popen(child_command(site, speed), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=stderr, close_fds=True, **kwargs)
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_first_line(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            line = stdout.readline(_MAX_LINE)
        except (OSError, ValueError):
            line = b""
        self._lines.put(line)
        stdout.close()

    def ready(self, timeout_s: float = READY_TIMEOUT_S, *, cancel: threading.Event | None = None) -> dict[str, Any]:
        """The child's document (state-file shape) once it serves. A child that reports an
        error, ends or says nothing within ``timeout_s`` (or before ``cancel`` is set: the
        window closed) is stopped and a DemoProcessError."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=min(CANCEL_LOOK_S, max(0.0, deadline - time.monotonic())))
                break
            except queue.Empty:
                if cancel is not None and cancel.is_set():
                    self.stop(0.0)
                    raise DemoProcessError("the window closed while it started") from None
                if time.monotonic() >= deadline:
                    self.stop(0.0)
                    raise DemoProcessError(f"its process did not answer within {timeout_s:.0f} s") from None
        try:
            doc = json.loads(line.decode("utf-8")) if line.strip() else None
        except (UnicodeDecodeError, ValueError):
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            self.stop()
            raise DemoProcessError(doc["error"])
        if not is_state_document(doc):
            code = self.proc.poll()
            if code is None and not line:       # its stdout ended: it is exiting, say how
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self.proc.wait(STOP_WAIT_S)
            self.stop()
            ended = f"its process ended (exit code {code})" if code is not None else "its process said nothing usable"
            raise DemoProcessError(ended)
        return doc

    def when_ended(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(sentence)``, from a thread of its own, if the child ends without
        :meth:`stop` (killed, crashed): its hosts stop answering, and the window says why
        instead of leaving them "not answering" unexplained. The thread sleeps in the OS's
        wait for the process (no polling), and reaps it."""
        def watch() -> None:
            code = self.proc.wait()
            with self._stop_lock:
                if self._stopped:
                    return
            callback(f"the demo site's process ended (exit code {code})")
        threading.Thread(target=watch, name="demo-child-watch", daemon=True).start()

    def stop(self, wait_s: float = STOP_WAIT_S) -> bool:
        """Close the child's pipe (it stops its site and exits), kill it if it has not
        within ``wait_s``, and reap it. True when it ended on its own."""
        with self._stop_lock:
            if self._stopped:
                return self.proc.poll() is not None
            self._stopped = True
        # Only stdin: closing stdout would wait for the reader thread's readline (one lock);
        # the child's end ends that read anyway.
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(wait_s)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            # Not even gone when killed: the OS reaps it later.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_WAIT_S)
            return False
