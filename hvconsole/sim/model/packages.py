"""Update packages in the simulated world: their bytes, and what installing one does.

A real ``.msu`` is hundreds of megabytes; a simulated one is a small deterministic blob
derived from its file name (:func:`package_bytes`), so a test, a scenario and the
simulated installer all agree on what the *genuine* package is: anything else with that
name (a truncated copy, a wrong file) is corrupt and fails to install. The KB comes from
the file name (``windows10.0-kb5061906-x64.msu``) as with Microsoft's own names, and
what the KB does (which build it brings each OS to) comes from the shipped update
catalog: the simulated site plays Microsoft with the same data the console reads.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

PACKAGE_SIZE = 192 * 1024
_KB_IN_NAME = re.compile(r"kb(\d{6,8})", re.I)
_MAGIC = b"MSCF\x00\x00\x00\x00"      # a cabinet's signature: .msu files are cabinets


def package_bytes(file_name: str, size: int = PACKAGE_SIZE) -> bytes:
    """The genuine content of the package called ``file_name`` (case does not matter)."""
    seed = file_name.lower().encode("utf-8")
    out = bytearray(_MAGIC)
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "little")).digest()
        counter += 1
    return bytes(out[:size])


@lru_cache(maxsize=64)
def package_sha256(file_name: str) -> str:
    """SHA-256 (lower-case hex) of :func:`package_bytes` for ``file_name``."""
    return hashlib.sha256(package_bytes(file_name)).hexdigest()


def corrupted(data: bytes) -> bytes:
    """The same bytes with one flipped in the middle: a damaged download or copy."""
    if not data:
        return b"\x00"
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


def kb_of(file_name: str) -> str | None:
    """``KB5061906`` for ``windows10.0-kb5061906-x64.msu``; None when the name has no KB."""
    match = _KB_IN_NAME.search(file_name)
    return None if match is None else f"KB{match[1]}"


@lru_cache(maxsize=1)
def _catalog_targets() -> dict[str, dict[int, int]]:
    from hvconsole.assets import asset_path
    from hvconsole.core.catalog import load_catalog

    catalog = load_catalog(asset_path("catalog", "updates.json"))
    return {u.kb: {t.build: t.min_ubr for t in u.targets if t.track == "standard"} for u in catalog.updates}


def update_target(kb: str, build: int) -> int | None:
    """The UBR that ``kb`` brings a host on CurrentBuild ``build`` to; None: not for that OS."""
    return _catalog_targets().get(kb.upper(), {}).get(build)


def update_title(kb: str) -> str:
    return f"Update for Microsoft server operating system ({kb.upper()})"
