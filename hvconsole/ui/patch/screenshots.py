"""``hvconsole --demo --wizard-screenshots DIR``: the wizard walked unattended through a
full demo run (at the demo site's speed), one PNG per page: ``01-update.png`` …
``09-verify.png``. The pictures are taken the way a person would see the pages (the
wizard's own widget grabbed after each page has finished its work)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .autopilot import SHOT_NAMES, WizardTimeout, full_demo_run, pump, wait_for
from .wizard import RUN, VERIFY

log = logging.getLogger(__name__)

SOAK_MINUTES = 2.0           # host minutes: long enough for the countdown to show
WATCH_MINUTES = 30.0         # the post-patch watch shown on the Verify page
TIMEOUT_S = 900.0            # a whole demo run at demo speed on a slow machine


def save_wizard_screenshots(session: Any, out_dir: Path) -> int:
    """0 when all nine pictures were saved; 1 (with the reason logged) otherwise."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wizard = session.open_wizard()
    try:
        verify = full_demo_run(wizard, pilot="HV01", production=["HV05"], soak_minutes=SOAK_MINUTES,
                               timeout_s=TIMEOUT_S, shots=out_dir)
        verify.watch_minutes.setValue(WATCH_MINUTES)
        verify.start_watch()
        wait_for(lambda: getattr(verify, "last_watch", None) is not None, TIMEOUT_S, "the post-patch watch")
        pump(100)
        wizard.grab().save(str(out_dir / f"{SHOT_NAMES[VERIFY]}.png"))
        verify.stop_watch()
        if verify.report and verify.report.get("state") != "done":
            log.warning("wizard screenshots: the demo run ended %s: %s", verify.report.get("state"),
                        wizard.page_of(RUN).header.text())
    except WizardTimeout as exc:
        log.error("wizard screenshots: %s", exc)
        return 1
    finally:
        wizard.close()
    missing = [name for name in SHOT_NAMES.values() if not (out_dir / f"{name}.png").is_file()]
    if missing:
        log.error("wizard screenshots: not saved: %s", ", ".join(missing))
        return 1
    return 0
