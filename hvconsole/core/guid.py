"""Version-4 GUIDs as text, the same as ``str(uuid.UUID(int=..., version=4))`` and
``str(uuid.uuid4())``, without :mod:`uuid`: on Linux it imports ``platform`` (~2 ms of
the demo site process's start), and building a ``uuid.UUID`` was most of a WS-Man message
id's cost (every request the console sends, every reply the simulator writes)."""

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
    """A random version-4 GUID (122 bits from the OS's random source, as ``uuid.uuid4``),
    its version and variant digits set in the text."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


# The clock_seq_hi digit with the variant's two top bits set to 10 (as uuid.UUID(version=4)).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
