"""XML text escaping for the endpoint's replies and the agent's CLIXML.

The same as ``xml.sax.saxutils.escape``, without importing it: that module pulls in
``urllib.request`` (and with it the HTTP client and the e-mail parser) for its URL
helpers, a few milliseconds of every demo site process's start for three replaces.
"""

from __future__ import annotations

from collections.abc import Mapping


def escape(data: str, entities: Mapping[str, str] | None = None) -> str:
    """``&``, ``<`` and ``>`` as entities, then each of ``entities``' keys by its value."""
    # "&" first: the other entities contain it.
    data = data.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    if entities:
        for char, entity in entities.items():
            data = data.replace(char, entity)
    return data
