"""Before the window exists: can Qt's xcb platform plugin load its libraries?

On a fresh Debian/Ubuntu box Qt 6 aborts with "xcb-cursor0 or libxcb-cursor0 is needed to
load the Qt xcb platform plugin" even when the libraries really missing are others
(libxcb-icccm4, libxcb-keysyms1, ...); the abort cannot be caught (qFatal). So the console
checks the libraries the plugin links against itself, before ``QApplication`` is created,
and prints one line naming them and the apt command that installs them (issue 10 #12).

The check loads each library by its soname, as the dynamic loader will when Qt loads the
plugin (``dlopen`` honours ``LD_LIBRARY_PATH`` and the ldconfig cache, which is what
``ctypes.util.find_library`` only approximates). It runs only when Qt will pick xcb: on
Linux, with ``QT_QPA_PLATFORM`` unset or ``xcb``, and no Wayland session Qt would prefer.
Qt-free.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# The libraries libqxcb.so needs beyond libxcb itself (ldd of PySide6's plugin), with the
# Debian/Ubuntu package that ships each (packages.debian.org, bookworm and trixie; Ubuntu
# 22.04 and 24.04 use the same names).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    # Usually present already (X11 and OpenGL basics), but a minimal image may lack them.
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}


def _can_load(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def will_use_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True when Qt is going to load the xcb platform plugin."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) != "linux":
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        # "xcb", or a fallback list such as "wayland;xcb" (xcb is tried when wayland fails).
        return "xcb" in [p.split(":")[0].strip() for p in chosen.split(";")]
    # Qt 6 prefers Wayland in a Wayland session and falls back to xcb otherwise.
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def missing_xcb_libraries(can_load: Callable[[str], bool] = _can_load) -> list[str]:
    return [lib for lib in XCB_LIBRARIES if not can_load(lib)]


def install_hint(missing: list[str]) -> str:
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[lib] for lib in missing))
    return (f"hvconsole: Qt's xcb platform plugin cannot load {', '.join(missing)}; "
            f"install: sudo apt install {packages}")


def check_platform(environ: Mapping[str, str] | None = None, platform: str | None = None,
                   can_load: Callable[[str], bool] = _can_load) -> str | None:
    """The one line to print when Qt would fail to open a window here, else None."""
    if not will_use_xcb(environ, platform):
        return None
    missing = missing_xcb_libraries(can_load)
    return install_hint(missing) if missing else None
