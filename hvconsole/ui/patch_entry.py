"""The window's one door to the patch wizard (``hvconsole.ui.patch``): imported lazily, so
the window opens before the wizard's modules load, and still works (with the Patch menu
disabled and saying why) in a build without them.

The agreed seam (the wizard's side): ``hvconsole.ui.patch.session.PatchSession(site, window,
add_banner)`` with ``open_wizard(kb, hosts)``, ``show_run(run_id)``, ``confirm_close()``,
``shutdown(wait_s)`` and the signals ``maintenance_changed(list)`` / ``runs_changed()``;
``hvconsole.ui.patch.screenshots.save_wizard_screenshots(session, out_dir) -> int``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SESSION_MODULE = "hvconsole.ui.patch.session"
SCREENSHOTS_MODULE = "hvconsole.ui.patch.screenshots"


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def wizard_available() -> bool:
    return _module_exists(SESSION_MODULE)


def make_session(site: Any, window: Any) -> Any:
    """A ``PatchSession`` for ``site`` in ``window``, or None when this build has no wizard
    (or it failed to start: logged, the monitor goes on without it)."""
    if not wizard_available():
        return None
    try:
        module = importlib.import_module(SESSION_MODULE)
        return module.PatchSession(site, window, window.add_banner)
    except Exception:
        log.exception("the patch wizard could not start; the Patch menu stays disabled")
        return None


def save_wizard_screenshots(session: Any, out_dir: Path) -> int:
    """The wizard's own walk through a demo run, one PNG per page; the exit code."""
    if session is None:
        print("hvconsole: the patch wizard is not available in this build; no screenshots taken",
              file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(SCREENSHOTS_MODULE)
    except ImportError as exc:
        print(f"hvconsole: the wizard's screenshot walk is not available: {exc}", file=sys.stderr)
        return 2
    return int(module.save_wizard_screenshots(session, out_dir))
