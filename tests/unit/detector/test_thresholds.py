"""Thresholds: one declaration with defaults, user overrides validated by name, type and range."""

from __future__ import annotations

import dataclasses

import pytest

from hvconsole.core.detector import DEFAULT_THRESHOLDS, Detector, Thresholds


def test_defaults_are_valid_and_follow_the_notes():
    th = Thresholds()
    th.validate()
    assert th == DEFAULT_THRESHOLDS
    # Stop-VM -Force waits 5 minutes before forcing (hyperv-notes §3): never stuck before that.
    assert th.stopping_stuck_s >= 300
    assert th.recovery_polls >= 2 and th.heartbeat_lost_polls >= 2 and th.unreachable_polls >= 2


def test_overrides_apply_and_keep_the_other_defaults():
    th = Thresholds.from_mapping({"boot_grace_s": 240, "heartbeat_lost_polls": 8.0})
    assert th.boot_grace_s == 240.0 and isinstance(th.boot_grace_s, float)
    assert th.heartbeat_lost_polls == 8 and isinstance(th.heartbeat_lost_polls, int)
    assert th.stopping_stuck_s == DEFAULT_THRESHOLDS.stopping_stuck_s


def test_round_trip_through_to_dict():
    th = Thresholds.from_mapping({"uptime_stall_s": 45})
    assert Thresholds.from_mapping(th.to_dict()) == th


@pytest.mark.parametrize("overrides, message", [
    ({"boot_grace": 10}, "did you mean 'boot_grace_s'"),
    ({"no_such_thing": 1}, "unknown threshold 'no_such_thing'"),
    ({"boot_grace_s": "60"}, "boot_grace_s must be a number"),
    ({"boot_grace_s": True}, "boot_grace_s must be a number"),
    ({"boot_grace_s": float("nan")}, "finite"),
    ({"boot_grace_s": -1}, "must not be negative"),
    ({"heartbeat_lost_polls": 2.5}, "whole number"),
    ({"recovery_polls": 0}, "at least 1"),
    ({"cpu_flat_max_pct": 120}, "percentage"),
    ({"cpu_flat_max_pct": 96}, "below cpu_pegged_min_pct"),
    ({"uptime_stall_ratio": 0}, "(0, 1]"),
    ({"host_wide_min_vms": 1}, "one VM is not a host problem"),
    ({"cpu_window_polls": 10}, "must not exceed heartbeat_lost_polls"),
    ({"restart_loop_count": 1}, "one restart is not a loop"),
])
def test_bad_overrides_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ValueError) as exc:
        Thresholds.from_mapping(overrides)
    assert message in str(exc.value)


def test_a_mapping_is_required():
    with pytest.raises(ValueError, match="JSON object"):
        Thresholds.from_mapping([("boot_grace_s", 1)])  # type: ignore[arg-type]


def test_detector_refuses_invalid_thresholds_built_by_hand():
    bad = dataclasses.replace(Thresholds(), cpu_flat_max_pct=99.0)
    with pytest.raises(ValueError):
        Detector(bad)
