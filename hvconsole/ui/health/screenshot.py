"""A PNG of the Health check view over the demo site: the demo started in this process,
every host audited through the real client, the first critical problem selected, the
dialog grabbed. For docs/images/health-check.png (``save_health_screenshot``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from hvconsole.core.health.thresholds import HealthThresholds
    from hvconsole.remote.target import Target

    from .view import HealthDialog

log = logging.getLogger(__name__)
TIMEOUT_S = 180.0


def save_health_screenshot(path: str, *, timeout_s: float = TIMEOUT_S) -> int:
    """0 when the picture was saved, 1 (reason logged) otherwise. Needs a QApplication.
    Audits the demo site through the service, as the window would."""
    from hvconsole.assets import asset_path
    from hvconsole.core.catalog import load_catalog
    from hvconsole.site import open_demo_site

    from ..theme import apply_theme
    from .service import HealthService
    from .view import HealthDialog

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("save_health_screenshot needs a QApplication")
    apply_theme(app)
    updates = load_catalog(asset_path("catalog", "updates.json")).updates
    with open_demo_site(name="demo") as site:
        service = HealthService(site.targets, updates=updates, clock=site.clock)
        dialog = HealthDialog(service)
        try:
            dialog.show()
            service.start()
            deadline = time.monotonic() + timeout_s
            while len(service.audits()) < len(service.hosts) or service.running:
                if time.monotonic() > deadline:
                    log.error("health screenshot: the audits did not finish within %.0f s", timeout_s)
                    return 1
                QTest.qWait(100)
            return grab(dialog, path)
        finally:
            service.stop()
            dialog.close()


def grab(dialog: HealthDialog, path: str) -> int:
    """Select the first critical problem (its evidence shows below the list) and save the
    dialog as a PNG; 0 when saved."""
    dialog.view.select_first()
    QTest.qWait(200)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(str(path)):
        log.error("health screenshot: cannot write %s", path)
        return 1
    return 0


def save_audits_screenshot(audits: list, targets: list[Target], path: str,
                           thresholds: HealthThresholds | None = None) -> int:
    """The view of audits already made (``hvconsole audit --screenshot``); 0 when saved."""
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # a picture never needs a visible window
    from ..theme import apply_theme
    from .service import HealthService
    from .view import HealthDialog
    instance = QApplication.instance()
    app = instance if isinstance(instance, QApplication) else QApplication([])
    apply_theme(app)
    service = HealthService(targets, thresholds=thresholds)
    dialog = HealthDialog(service)
    try:
        dialog.show()
        service.show_results(audits)
        return grab(dialog, path)
    finally:
        service.stop()
        dialog.close()
