"""Event classification (hyperv-notes §4): listed ids by channel and provider, a catch-all
for severe Hyper-V events, and nothing for events whose meaning we cannot check."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hvconsole.core.detector.events import SeenEvents, classify, describe
from hvconsole.core.snapshot import HostEvent

T = datetime(2026, 11, 25, 9, 1, 7, tzinfo=timezone.utc)
WORKER = "Microsoft-Windows-Hyper-V-Worker-Admin"


def ev(log: str, event_id: int, level: str = "Error", provider: str | None = None,
       message: str | None = "m") -> HostEvent:
    return HostEvent(time=T, log=log, id=event_id, level=level, provider=provider, message=message)


@pytest.mark.parametrize("event, category", [
    (ev(WORKER, 18560, "Critical", "Microsoft-Windows-Hyper-V-Worker"), "guest-crash-events"),
    (ev(WORKER, 18590, "Critical"), "guest-crash-events"),
    (ev(WORKER, 18606, "Error"), "hyperv-error-events"),
    (ev("Microsoft-Windows-Hyper-V-VMMS-Admin", 19060, "Error"), "hyperv-error-events"),
    (ev("System", 41, "Critical", "Microsoft-Windows-Kernel-Power"), "host-crash-events"),
    (ev("System", 6008, "Error", "EventLog"), "host-crash-events"),
    (ev("System", 1001, "Error", "Microsoft-Windows-WER-SystemErrorReporting"), "host-crash-events"),
    (ev("System", 7034, "Error", "Service Control Manager"), "host-crash-events"),
    (ev("System", 1230, "Error", "Microsoft-Windows-FailoverClustering"), "cluster-failure-events"),
    (ev("System", 1672, "Warning", "Microsoft-Windows-FailoverClustering"), "cluster-failure-events"),
    (ev("System", 1069, "Error", None), "cluster-failure-events"),  # provider unknown: the id decides
    (ev("Microsoft-Windows-FailoverClustering/Operational", 1135, "Critical"), "cluster-failure-events"),
])
def test_events_that_matter(event, category):
    found = classify(event)
    assert found is not None and found[0] == category


@pytest.mark.parametrize("event", [
    ev(WORKER, 18500, "Information"),                       # VM started
    ev(WORKER, 18560, "Information"),                       # a listed id at an odd level
    ev("System", 1001, "Error", "Windows Error Reporting"),  # same id, another provider
    ev("System", 41, "Critical", "Some-Other-Provider"),
    ev("System", 1074, "Information", "User32"),            # planned restart: not a failure
    ev("Application", 1000, "Error", "Application Error"),
    ev("System", 7036, "Information", "Service Control Manager"),
])
def test_events_that_do_not(event):
    assert classify(event) is None


def test_description_names_channel_id_time_and_cleaned_message():
    e = ev(WORKER, 18560, "Critical", message="'SQL01' was reset\r\nbecause of a\x1b[31m triple fault.")
    assert describe(e, "meaning", T.timestamp()) == \
        "Worker-Admin 18560 at 09:01:07Z: 'SQL01' was reset because of a [31m triple fault."
    system = ev("System", 41, "Critical", "Microsoft-Windows-Kernel-Power", message=None)
    assert describe(system, "host rebooted without a clean shutdown", T.timestamp()) == \
        "System 41 (Kernel-Power) at 09:01:07Z: host rebooted without a clean shutdown"


def test_seen_events_remembers_a_bounded_number():
    seen = SeenEvents(capacity=3)
    events = [ev(WORKER, 18560 + i) for i in range(5)]
    assert [seen.first_time(e) for e in events] == [True] * 5
    assert seen.first_time(events[4]) is False
    assert seen.first_time(events[0]) is True  # forgotten: the memory is bounded
