"""Times as the contract writes them: ISO-8601 UTC with a ``Z``.

Windows PowerShell 5.1 serialises DateTime as ``"\\/Date(ms)\\/"`` (sometimes with a zone
offset suffix, ``\\/Date(ms+0100)\\/``); the parser accepts that form too.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_time(text: str) -> datetime:
    """Return an aware UTC datetime, or raise ValueError with a readable reason."""
    if not isinstance(text, str):
        raise ValueError(f"expected a time string, got {type(text).__name__}")
    s = text.strip()
    m = _MS_DATE.match(s)
    if m:
        # The offset suffix only says how the sender displayed it; ms are UTC epoch ms.
        return datetime.fromtimestamp(int(m.group(1)) / 1000.0, tz=timezone.utc)
    if not s:
        raise ValueError("empty time string")
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # fromisoformat (3.11) accepts up to microseconds; .NET writes 7 fractional digits.
    s = re.sub(r"(\.\d{6})\d+", r"\1", s)
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not an ISO-8601 time: {text[:40]!r}") from None
    if dt.tzinfo is None:
        # A time without a zone from a host is taken as UTC: the collector writes UTC.
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def format_time(dt: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and a ``Z``."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
