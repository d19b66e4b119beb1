"""Version-4 GUIDs as text, the same as ``str(uuid.UUID(int=..., version=4))`` and
``str(uuid.uuid4())``, without importing :mod:`uuid`: on Linux it imports ``platform``,
~2 ms of a demo site process's start, for what is a formatted random number here."""

from __future__ import annotations

import os

_VERSION_4 = 4 << 76             # the version nibble (bits 76-79)
_RFC_4122 = 0x8000 << 48         # the variant bits (10xx in bits 62-63)
_CLEARED = ~((0xF000 << 64) | (0xC000 << 48))


def guid4(value: int) -> str:
    """``value``'s 128 bits as a version-4 GUID (its version and variant bits set)."""
    if not 0 <= value < 1 << 128:
        raise ValueError("a GUID is 128 bits")
    text = f"{(value & _CLEARED) | _VERSION_4 | _RFC_4122:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_guid() -> str:
    """A random version-4 GUID (from the OS's random source, as ``uuid.uuid4``)."""
    return guid4(int.from_bytes(os.urandom(16), "big"))
