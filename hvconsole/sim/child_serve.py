"""The demo site's own process, its end of the pipe (the window's end: :mod:`.child`).

:func:`main` serves the site, writes its one line and reads its stdin until end of file
(:mod:`.child` says what the line holds and why the pipe ends it). A module of its own, so
that the process imports only what it serves with: not the window's end's subprocess,
queue and reader threads, which its start would pay for before its first line.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
from typing import IO, Any

CHILD_FLAG = "--serve-demo-child"      # the hidden argument (child.child_command puts it on the line)


def _binary_stream(fd: int, name: str, mode: str) -> IO[bytes]:
    """stdin or stdout in bytes; a windowed (frozen) app on Windows may have no sys.stdin/
    sys.stdout objects even when its handles are pipes: open them by descriptor then."""
    stream = getattr(sys, name, None)
    if stream is not None and hasattr(stream, "buffer"):
        return stream.buffer
    return os.fdopen(fd, mode, buffering=0)


def main(argv: list[str]) -> int:
    """``hvconsole --serve-demo-child SITE SPEED``: serve the demo site until stdin closes."""
    # Ctrl+C in the window's terminal reaches its whole process group: the child ends with
    # its pipe instead, after the window has closed its site, never with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = _binary_stream(1, "stdout", "wb")
    inp = _binary_stream(0, "stdin", "rb")

    def say(doc: dict[str, Any]) -> None:
        out.write(json.dumps(doc).encode("utf-8") + b"\n")
        out.flush()

    if len(argv) != 2:              # only the window starts it; a person trying it gets told how
        say({"error": f"usage: hvconsole {CHILD_FLAG} SITE SPEED"})
        return 1
    site, speed_text = argv
    try:
        speed = float(speed_text)
    except ValueError:
        speed = math.nan
    if not (speed > 0 and math.isfinite(speed)):
        say({"error": f"the demo speed must be a positive number, not {speed_text!r}"})
        return 1
    try:
        from .serve import DEMO_SITES, start_demo, state_document
        if site not in DEMO_SITES:
            raise ValueError(f"no demo site {site!r}")
        served = start_demo(speed=speed, site=site)
    except OSError as exc:
        say({"error": f"the simulated site cannot listen on this machine: {exc}"})
        return 1
    except Exception as exc:       # said to the window in one sentence, not a traceback
        say({"error": str(exc) or type(exc).__name__})
        return 1
    try:
        say(state_document(served, site=site, speed=speed))
        # What a first command needs (the script handlers' modules...), imported now that
        # the window knows the hosts, while its polls open their shells: their first
        # command then finds it ready. One that comes sooner waits for these imports (the
        # import lock, the handlers' lock) and is answered as before.
        from .agent.host_agent import load_command_modules
        threading.Thread(target=load_command_modules, name="demo-child-imports", daemon=True).start()
        while inp.read(4096):      # nothing is sent; end of file is the window gone
            pass
    except OSError:
        pass                       # the window's end broke: the same as closed
    finally:
        served.stop()
    return 0
