"""The host inventory: which Hyper-V hosts the admin manages and how to reach each one.

Qt-free and keyring-free on purpose: passwords live only in the OS keyring
(``hvconsole/credentials.py``). The pieces:

- ``fields``: transports and one validator per field (clear messages for bad input);
- ``model``: :class:`Host` and :class:`Inventory` (names unique, case-insensitive);
- ``store``: the versioned ``hosts.json``, written atomically; a bad entry is set aside
  alone, a secret field removed, a newer version's file left untouched, an unreadable file
  moved aside (docs/bad-input.md);
- ``exchange``: CSV/JSON import and export, never carrying a secret;
- ``book``: the inventory and a password store changed together (CLI and host dialog).
"""

from .book import HostBook, PasswordStore
from .exchange import export_csv, export_json, parse_import
from .fields import (
                     HTTP_PORT,
                     HTTPS_PORT,
                     TRANSPORT_LABELS,
                     DuplicateHostError,
                     HostValidationError,
                     InventoryConflictError,
                     InventoryError,
                     Transport,
                     UnknownHostError,
                     is_loopback,
                     validate_address,
                     validate_username,
)
from .model import FORMAT_ID, FORMAT_VERSION, Host, Inventory, NewerFormatError, RejectedEntry
from .store import InventoryStore, LoadResult

__all__ = [
    "FORMAT_ID", "FORMAT_VERSION", "HTTP_PORT", "HTTPS_PORT", "TRANSPORT_LABELS",
    "DuplicateHostError", "Host", "HostBook", "PasswordStore", "HostValidationError", "Inventory",
    "InventoryConflictError",
    "InventoryError", "InventoryStore", "LoadResult", "NewerFormatError", "RejectedEntry", "Transport",
    "UnknownHostError",
    "export_csv", "export_json", "is_loopback", "parse_import", "validate_address",
    "validate_username",
]
