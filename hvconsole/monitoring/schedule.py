"""When a host is polled next: one schedule for the window's PollingService and the
headless agent's threads, so both treat a host that stops answering the same way."""

from __future__ import annotations

from typing import Any

DEFAULT_INTERVAL_S = 5.0
BACKOFF_CAP_S = 60.0
# Each delay is stretched or shrunk by up to this fraction, so that hosts started together
# drift apart instead of answering in the same tick forever (and their worker threads
# stop competing for the interpreter at the same moment).
JITTER = 0.1


def next_delay_s(interval_s: float, failures: int, cap_s: float = BACKOFF_CAP_S) -> float:
    """Seconds until the next poll: the interval while the host answers; after the n-th
    failure in a row, interval × 2^(n-1), capped at ``cap_s`` (never below the interval)."""
    if failures <= 0:
        return interval_s
    return max(interval_s, min(cap_s, interval_s * 2 ** min(failures - 1, 30)))


def own_interval(worker: Any) -> float | None:
    """The host's own interval (the inventory's ``poll_interval_s``, carried by its worker),
    or None when it has none and the scheduler's default applies."""
    own = getattr(worker, "scheduled_interval_s", None)
    return float(own) if own else None
