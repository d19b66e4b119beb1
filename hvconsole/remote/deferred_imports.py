"""Auth libraries that pywinrm imports with itself, loaded on first use instead.

``import winrm`` imports ``requests_ntlm`` (and through it pyspnego, with its Kerberos and
GSSAPI bindings) and its vendored ``requests_kerberos`` (``cryptography.x509``) whatever
transport is used: ~90 ms of CPU on every start, before the first host can be polled. A
plaintext (HTTP Basic on loopback: the demo site) or Basic-over-HTTPS host never uses
them, and an NTLM or Kerberos host uses them only once its first request is signed.

:func:`install` puts a stand-in module under each of those names. Modules that import
them keep the stand-in; its first attribute lookup imports the real module (under a lock:
poll threads sign their first requests at the same moment) and every lookup is answered
from it. A library that is not installed gets no stand-in (pywinrm handles its absence
as before), and one that is imported already stays as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

# The heavy modules pywinrm's import pulls in that only NTLM, Kerberos and CredSSP use.
DEFERRED = ("spnego", "cryptography.x509")

_lock = threading.RLock()


class _StandIn(types.ModuleType):
    """Answers every attribute from the real module, imported on the first lookup."""

    def __getattr__(self, attr: str) -> Any:      # only for attributes the stand-in lacks
        return getattr(_real(self), attr)


def _real(stand_in: _StandIn) -> types.ModuleType:
    name = stand_in.__name__
    with _lock:
        current = sys.modules.get(name)
        if current is stand_in:
            del sys.modules[name]
            try:
                current = importlib.import_module(name)
            except BaseException:
                sys.modules.setdefault(name, stand_in)      # try again on the next lookup
                raise
        elif current is None:
            current = importlib.import_module(name)
        return current


def install(names: tuple[str, ...] = DEFERRED) -> None:
    """Stand-ins for ``names`` (imported ones and missing ones are left alone)."""
    with _lock:
        for name in names:
            if name in sys.modules:
                continue
            parent, _, child = name.rpartition(".")
            try:
                spec = importlib.util.find_spec(name)     # imports the parent package, if any
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            stand_in = _StandIn(name)
            # find_spec on an imported name reads its __spec__ (a None there is an error).
            stand_in.__spec__ = spec
            sys.modules[name] = stand_in
            if parent:
                # `from cryptography import x509` looks for the attribute first.
                setattr(sys.modules[parent], child, stand_in)
