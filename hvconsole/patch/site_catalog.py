"""The site catalog: the shipped update catalog plus the admin's ``<config>/catalog.d/*.json``.

A module of its own, light to import (no engine, no WinRM client): the window reads the
catalog before its first polls leave, and the Compliance column's poll workers read it too;
the engine, the planning service and the command line use the same reader.
"""

from __future__ import annotations

from hvconsole import paths
from hvconsole.assets import asset_path
from hvconsole.core.catalog import Catalog, load_catalog


def load_site_catalog() -> Catalog:
    """The shipped catalog plus the admin's ``<config>/catalog.d/*.json``."""
    return load_catalog(asset_path("catalog", "updates.json"), paths.config_dir() / "catalog.d")
