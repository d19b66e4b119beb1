"""Storage latency from two polls of the raw PERF_AVERAGE_TIMER pairs, per device
(core/storage_latency.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hvconsole.core.parse import SnapshotFormatError, parse_snapshot
from hvconsole.core.snapshot import HostResources, OsInfo, Snapshot
from hvconsole.core.storage_latency import WRAP, StorageLatency

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOOT = T0 - timedelta(days=3)
FREQ = 10_000_000.0

Raw = dict[str, tuple[int, int]]


def _snap(i: int, raw: Raw | None, *, freq: float | None = FREQ, boot: datetime = BOOT,
          reported_ms: float | None = None) -> Snapshot:
    pairs = None if raw is None else tuple((k, t, b) for k, (t, b) in raw.items())
    return Snapshot(host="HV01", polled_at=T0 + timedelta(seconds=5 * i), reachable=True,
                    os=OsInfo(build=20348, last_boot=boot),
                    resources=HostResources(storage_read_bps=1e6, storage_latency_ms=reported_ms,
                                            storage_latency_freq=freq, storage_latency_raw=pairs))


def _run(*snaps: Snapshot) -> list[float | None]:
    tracker = StorageLatency()
    out = []
    for s in snaps:
        res = tracker.apply(s).resources
        out.append(None if res is None else res.storage_latency_ms)
    return out


def test_first_poll_is_unknown_then_the_interval_s_average_in_ms() -> None:
    # 1,000 operations on two disks that took 2.5 s together: 2.5 ms each.
    first = {"a": (5_000_000, 10_000), "b": (0, 0)}
    second = {"a": (5_000_000 + 15_000_000, 10_600), "b": (10_000_000, 400)}
    assert _run(_snap(0, first), _snap(1, second)) == [None, 2.5]


def test_one_device_whose_ticks_wrapped_past_2_to_the_32_still_reads_right() -> None:
    start = WRAP - 1_000_000
    first = {"a": (start, 500), "b": (7, 3)}
    second = {"a": ((start + 20_000_000) % WRAP, 2_500), "b": (7, 3)}
    assert _run(_snap(0, first), _snap(1, second)) == [None, 1.0]


def test_a_stall_on_a_busy_host_whose_summed_ticks_would_wrap_reads_right() -> None:
    # 40 disks, each with 60 operations of 300 ms in one 5 s poll: 18 s of latency each,
    # 720 s together (7.2e9 ticks, past 2**32): a sum over the host would read ~121 ms.
    first = {f"d{i:02}": (i * 100_000_000 % WRAP, 1_000 + i) for i in range(40)}
    second = {k: ((t + 60 * 3_000_000) % WRAP, b + 60) for k, (t, b) in first.items()}
    assert sum((second[k][0] - first[k][0]) % WRAP for k in first) > WRAP
    assert _run(_snap(0, first), _snap(1, second)) == [None, 300.0]


def test_no_operations_in_between_is_0_ms() -> None:
    assert _run(_snap(0, {"a": (7_000, 50)}), _snap(1, {"a": (7_000, 50)})) == [None, 0.0]


def test_a_device_added_or_removed_in_between_counts_only_where_both_polls_saw_it() -> None:
    first = {"a": (1_000_000, 100), "gone": (9_000_000, 900)}
    # "new" started mid-interval (a VM that started) and "gone" stopped: only "a" counts.
    second = {"a": (1_000_000 + 40_000_000, 100 + 4_000), "new": (3_000_000_000, 7)}
    third = {"a": (41_000_000 + 4_000_000, 4_100 + 200), "new": (3_000_000_000 + 6_000_000, 7 + 200)}
    assert _run(_snap(0, first), _snap(1, second), _snap(2, third)) == [None, 1.0, 2.5]


def test_a_device_recreated_in_between_counts_nothing_that_poll() -> None:
    first = {"a": (5_000_000, 1_000), "b": (8_000_000, 2_000)}
    # "b" started over: its operations went back (or stood still while its ticks moved).
    for b in ((1_000, 10), (9_000_000, 2_000)):
        second = {"a": (5_000_000 + 20_000_000, 1_000 + 1_000), "b": b}
        assert _run(_snap(0, first), _snap(1, second)) == [None, 2.0]


def _pairs(i: int, *pairs: tuple[str, int, int]) -> Snapshot:
    return Snapshot(host="HV01", polled_at=T0 + timedelta(seconds=5 * i), reachable=True,
                    os=OsInfo(build=20348, last_boot=BOOT),
                    resources=HostResources(storage_latency_freq=FREQ, storage_latency_raw=pairs))


def test_two_devices_with_one_key_are_left_out() -> None:
    assert _run(_pairs(0, ("a", 0, 0), ("x", 0, 0), ("x", 5, 5)),
                _pairs(1, ("a", 10_000_000, 1_000), ("x", 50_000_000, 10), ("x", 5, 5))) == [None, 1.0]


@pytest.mark.parametrize("second", [
    _snap(1, {"a": (1_000, 10)}),                                    # every device started over: reboot
    _snap(1, {"a": (9_000_000, 20_000)}, boot=BOOT + timedelta(days=3)),  # a new boot, counters grew again
    _snap(1, {"b": (9_000_000, 20_000)}),                            # no device seen in both polls
    _snap(1, {"a": (9_000_000, 20_000)}, freq=FREQ / 4),             # another time base
    _snap(1, {}, freq=None),                                         # no virtual disk left
])
def test_an_interval_that_cannot_be_compared_is_unknown_never_negative(second: Snapshot) -> None:
    assert _run(_snap(0, {"a": (8_000_000, 10_000)}), second) == [None, None]


def test_a_poll_without_the_counters_starts_over_and_keeps_what_it_reported() -> None:
    # An older recording carries the host's own figure and no raw counters: left as it was.
    old = _snap(1, None, freq=None, reported_ms=3.25)
    unreachable = Snapshot(host="HV01", polled_at=T0 + timedelta(seconds=15), reachable=False)
    assert _run(_snap(0, {"a": (0, 0)}), old, _snap(2, {"a": (1_000_000, 100)}), unreachable,
                _snap(4, {"a": (2_000_000, 200)}), _snap(5, {"a": (3_000_000, 300)})) \
        == [None, 3.25, None, None, None, 1.0]


def _doc(raw: object) -> dict[str, object]:
    return {"schema": "hvconsole.snapshot/1", "host": "HV01", "polled_at": "2026-03-01T12:00:00Z",
            "reachable": True, "resources": {"storage_latency_ms": None, "storage_latency_freq": 10000000,
                                             "storage_latency_raw": raw}}


def test_the_raw_pairs_parse_from_the_host_s_document_and_back() -> None:
    snap = parse_snapshot(_doc([["0123456789", 4294967295, 12], ["abcdef0123", 0, 0.0]]))
    res = snap.resources
    assert res is not None and res.storage_latency_freq == 10_000_000.0
    assert res.storage_latency_raw == (("0123456789", 4294967295, 12), ("abcdef0123", 0, 0))
    assert parse_snapshot(snap.to_dict()) == snap
    assert parse_snapshot(_doc(None)).resources == HostResources(storage_latency_freq=10_000_000.0)


@pytest.mark.parametrize("raw", [
    {"a": [1, 2]}, [["a", 1]], [[1, 2, 3]], [["", 1, 2]], [["k" * 33, 1, 2]],
    [["a", -1, 2]], [["a", 2**32, 2]], [["a", 1, None]], [["a", 1, "x"]], [["a", True, 2]],
])
def test_a_malformed_device_entry_is_named(raw: object) -> None:
    with pytest.raises(SnapshotFormatError, match="storage_latency_raw"):
        parse_snapshot(_doc(raw))
