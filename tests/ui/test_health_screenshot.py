"""save_health_screenshot: the demo site audited through the real client, rendered offscreen."""

from __future__ import annotations

from PySide6.QtGui import QImage

from hvconsole.ui.health import save_health_screenshot


def test_health_screenshot_of_the_demo(qapp, tmp_path):
    out = tmp_path / "health.png"
    assert save_health_screenshot(str(out)) == 0
    image = QImage(str(out))
    assert image.width() >= 900 and image.height() >= 600
    # Not a blank picture: the severity dots are there (red of a critical problem).
    reds = sum(1 for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
               if image.pixelColor(x, y).red() > 180 and image.pixelColor(x, y).green() < 90)
    assert reds > 5
