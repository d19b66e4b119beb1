"""``save_wizard_screenshots`` walks the wizard through a whole demo run unattended and
saves one PNG per page."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from hvconsole.ui.patch.screenshots import save_wizard_screenshots
from wizard_support import demo, home, session_for  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]   # whole runs on a loaded 2-core machine
NAMES = ["01-update", "02-hosts", "03-package", "04-preflight", "05-vms", "06-window", "07-review", "08-run",
         "09-verify"]


def test_nine_pictures_of_a_demo_run(home, qtbot, tmp_path):
    with demo() as site, session_for(site, qtbot) as session:
        assert save_wizard_screenshots(session, tmp_path / "shots") == 0
    assert sorted(p.stem for p in (tmp_path / "shots").glob("*.png")) == NAMES
    for name in NAMES:
        image = QImage(str(tmp_path / "shots" / f"{name}.png"))
        assert image.width() >= 800 and image.height() >= 600, name
        # Not a blank grab: a page has text and widgets in more than one colour.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 20, name
