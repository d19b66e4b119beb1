"""How much of the polling service's results one event-loop turn applies.

A turn's cost on the GUI thread is mostly the tiles it makes Qt repaint: ~0.1 ms for a
tile on screen that changed, ~0.5 ms for a new one (drawn for the first time, and the grid
laid out again), next to which the models' own updates are small. :func:`take_share`
picks, from the results waiting, the ones whose tiles fit one turn's budget; the monitor
applies their tiles in one turn and, when the share was heavy, their host lines, findings
and events in the next (a second repaint of its own), so that no turn holds the GUI thread
for more than about a frame however many hosts answer at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvconsole.monitoring.host_worker import PollResult


def take_share(waiting: Sequence[PollResult], weight: Callable[[PollResult], int],
               budget: int) -> tuple[list[PollResult], list[PollResult], int]:
    """Split ``waiting`` (oldest first) into a share for this turn and what waits for the
    next: results are taken in order while their weights fit ``budget``; the first one is
    always taken (a host heavier than a turn still gets its turn), one that does not fit is
    left with every later result of its host (a host's results are applied in order), and
    a result weighing nothing (no tile on screen changes) always goes with the share.
    Returns (share, left, the share's weight)."""
    share: list[PollResult] = []
    left: list[PollResult] = []
    held: set[str] = set()
    spent = 0
    for result in waiting:
        if result.host in held:
            left.append(result)
            continue
        cost = weight(result)
        if share and cost and spent + cost > budget:
            held.add(result.host)
            left.append(result)
            continue
        share.append(result)
        spent += cost
    return share, left, spent
