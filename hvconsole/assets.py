"""Where the files of the top-level ``resources/`` folder (icons, style sheet, update
catalog) are at run time: inside the package when installed from a wheel or frozen by
PyInstaller (``hvconsole.resources``), beside the package in a source checkout or an
editable install (setuptools' editable finder cannot map a folder outside the package)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "hvconsole" / "resources"
    packaged = Path(__file__).parent / "resources"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "resources"


def asset_path(*parts: str) -> Path:
    """Path of a file under ``resources/``, e.g. ``asset_path("catalog", "updates.json")``."""
    return resources_dir().joinpath(*parts)
