"""Text for people: sizes, durations, builds, times, and plain-text tooltips.

Host data (VM names, event messages, evidence) is only ever shown as *plain text*. Qt
decides whether a tooltip is rich text by looking at its first line
(``Qt::mightBeRichText``), so :func:`plain_tooltip` always starts with a fixed header
written by us; whatever a host sends can only appear on later lines, where it is shown
as typed. No host text is ever escaped into or spliced into HTML.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime

TOOLTIP_WIDTH = 100


def format_mb(mb: float | None) -> str:
    """Memory as an admin reads it: ``512 MB``, ``4.0 GB``, ``1.25 TB``."""
    if mb is None:
        return "—"
    if mb < 1024:
        return f"{mb:.0f} MB"
    gb = mb / 1024
    if gb < 1024:
        return f"{gb:.1f} GB"
    return f"{gb / 1024:.2f} TB"


def format_mem_pair(assigned_mb: float | None, demand_mb: float | None) -> str:
    """``assigned / demand`` in one unit (the larger one decides), e.g. ``8.0 / 5.2 GB``."""
    if assigned_mb is None and demand_mb is None:
        return "—"
    # Called for every VM on every poll (the tile's tooltip): plain comparisons, no generator.
    if assigned_mb is None:
        biggest: float = demand_mb  # type: ignore[assignment]  # not None: both None returned above
    elif demand_mb is None or assigned_mb >= demand_mb:
        biggest = assigned_mb
    else:
        biggest = demand_mb
    # Each figure formatted in line, not through a nested helper: a running VM's memory
    # demand moves at most polls, so this runs for nearly every VM at every poll.
    if biggest < 1024:
        a = "—" if assigned_mb is None else f"{assigned_mb:.0f}"
        d = "—" if demand_mb is None else f"{demand_mb:.0f}"
        return f"{a} / {d} MB"
    a = "—" if assigned_mb is None else f"{assigned_mb / 1024:.1f}"
    d = "—" if demand_mb is None else f"{demand_mb / 1024:.1f}"
    return f"{a} / {d} GB"


def format_mem_tile(assigned_mb: float | None, demand_mb: float | None) -> str:
    """A tile's memory line, each figure named: ``Mem 16.0 GB · demand 8.9 GB``.

    "Mem" is what Hyper-V has assigned to the VM (``MemoryAssigned``), "demand" what the
    guest asks for (``MemoryDemand``, reported with Dynamic Memory). Without a demand
    figure (or with nothing assigned and nothing asked for: a VM that is off) only the
    assigned memory is shown."""
    return mem_tile_variants(assigned_mb, demand_mb)[0]


def mem_tile_variants(assigned_mb: float | None, demand_mb: float | None) -> tuple[str, ...]:
    """The memory line from the longest wording to the shortest that still names both
    figures (``Mem 16.0 GB · demand 12.8 GB``, ``Mem 16.0 · demand 12.8 GB`` when both are
    in GB, ``Mem 16.0 · dem. 12.8 GB``): a tile shows the first that fits beside its
    heartbeat, so the numbers are never cut off when a wording can be."""
    if assigned_mb is None and demand_mb is None:
        return ("Mem —",)
    if demand_mb is None or (not demand_mb and not assigned_mb):
        return (f"Mem {format_mb(assigned_mb)}",)
    assigned, demand = format_mb(assigned_mb), format_mb(demand_mb)
    full = f"Mem {assigned} · demand {demand}"
    unit = demand.rsplit(" ", 1)[-1]
    if assigned.endswith(" " + unit):
        number = assigned[: -len(unit) - 1]
        return (full, f"Mem {number} · demand {demand}", f"Mem {number} · dem. {demand}")
    return (full, f"Mem {assigned} · dem. {demand}")


def format_duration(seconds: float | None) -> str:
    """Uptime-style: ``45 s``, ``12 min``, ``5 h 03 min``, ``12 d 4 h``."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def format_pct(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:.0f} %"


def format_os_build(build: int | None, ubr: int | None) -> str:
    """``20348.3692`` (CurrentBuild.UBR), the number an admin compares with a KB page."""
    if build is None:
        return "—"
    return f"{build}" if ubr is None else f"{build}.{ubr}"


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def format_clock(dt: datetime | None) -> str:
    """Local wall-clock time of day, ``14:03:27``; the date only when it is not today."""
    if dt is None:
        return "—"
    local = dt.astimezone()
    now = datetime.now(UTC).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def plain_tooltip(header: str, lines: Iterable[str] = ()) -> str:
    """A tooltip Qt will show as plain text: our fixed ``header`` on the first line, then
    ``lines`` (which may carry anything a host sent) one per line.

    The header is ours, but it is still checked: a ``<`` or ``&`` in the first line is
    what makes Qt guess rich text, so they are replaced rather than trusted."""
    safe_header = header.replace("<", "‹").replace("&", "+").replace("\n", " ").strip()
    body: list[str] = []
    for line in lines:
        # Plain-text tooltips do not wrap; a long evidence line would span the screen.
        body.extend(textwrap.wrap(str(line).replace("\r", " "), TOOLTIP_WIDTH,
                                  subsequent_indent="    ") or [""])
    return "\n".join([safe_header or "Details", *body])


def one_line(text: str | None, limit: int = 200) -> str:
    """First line of a (host-provided) message, shortened for a table cell."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
