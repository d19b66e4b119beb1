"""Where hvconsole keeps its files on this PC.

The platform's own conventions come from ``platformdirs`` (``%APPDATA%\\hvconsole`` on
Windows, ``~/Library/Application Support/hvconsole`` on macOS, ``~/.config/hvconsole``
and friends on Linux). Setting the environment variable ``HVCONSOLE_HOME`` moves
everything under one folder instead: tests and throwaway demos use it so that they never
touch the admin's real inventory.

Nothing here creates a folder: the writers do that (with private permissions) when they
first write, so merely starting the program leaves no trace.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "hvconsole"
HOME_ENV = "HVCONSOLE_HOME"
INVENTORY_FILE = "hosts.json"
PATCH_JOURNAL_FILE = "patch-journal.sqlite"
DEMO_FOLDER = "demo"


def _override() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Settings and the host inventory (small files the admin may back up)."""
    home = _override()
    if home is not None:
        return home / "config"
    # roaming=True: on a Windows domain the admin's inventory follows the admin's profile.
    return platformdirs.user_config_path(APP_NAME, appauthor=False, roaming=True)


def data_dir() -> Path:
    """Larger state that belongs to this PC: the patch journal, recordings."""
    home = _override()
    if home is not None:
        return home / "data"
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    home = _override()
    if home is not None:
        return home / "log"
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def inventory_path() -> Path:
    """The host inventory file (``hosts.json``); it never contains a password."""
    return config_dir() / INVENTORY_FILE


def demo_data_dir() -> Path:
    """The simulated demo site's own state (``<data dir>/demo``): its patch journal lives
    here, so demo runs never mix with runs against real hosts."""
    return data_dir() / DEMO_FOLDER


def site_data_dir(demo: bool = False) -> Path:
    """Where a site's own state lives (patch journal, history, last known hosts): the
    data folder for the configured hosts, its ``demo`` folder for the simulated site."""
    return demo_data_dir() if demo else data_dir()


def patch_journal_path(demo: bool = False) -> Path:
    """The patch journal: ``<data dir>/patch-journal.sqlite`` for the configured hosts,
    ``<data dir>/demo/patch-journal.sqlite`` for the simulated demo site."""
    return site_data_dir(demo) / PATCH_JOURNAL_FILE
