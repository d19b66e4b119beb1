"""Run by the integration test as a process of its own: find the host in the inventory,
read its password from the OS keyring (only the host's name is given on the command
line), poll it once through the real WinRM client and print one JSON object:
``{"backend": ..., "snapshot": {...}}`` or ``{"error": ...}``."""

from __future__ import annotations

import json
import sys

import keyring

from hvconsole import paths
from hvconsole.core.inventory import InventoryStore
from hvconsole.credentials import CredentialStore
from hvconsole.remote.collector import Collector
from hvconsole.remote.probe import target_for


def main(name: str) -> int:
    host = InventoryStore(paths.inventory_path()).load().inventory.get(name)
    store = CredentialStore()
    secret = store.get(host.id)
    backend = type(keyring.get_keyring())
    if secret is None:
        print(json.dumps({"error": f"no password for {host.name} in the keyring"}))
        return 1
    collector = Collector(target_for(host, secret), timeout_s=30)
    try:
        snapshot = collector.poll()
    finally:
        collector.close()
    print(json.dumps({"backend": f"{backend.__module__}.{backend.__name__}", "snapshot": snapshot.to_dict()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
