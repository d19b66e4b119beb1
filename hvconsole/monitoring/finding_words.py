"""Findings in the words an admin reads: the detector's stable machine names
(``heartbeat-lost-cpu-pegged``, findings-v1 ``kind``) become short sentences in the banner,
the findings table, the tray and the VM detail window; long second counts in evidence
become days and hours. The machine name stays in tooltips and in exported JSON, where it
is what a script or a search needs. Qt-free.
"""

from __future__ import annotations

import re

from .formatting import format_duration

# One short phrase per kind of hvconsole.core.detector.KINDS (a test checks that every
# kind has one). What each rule means in full: docs/freeze-detection.md.
KIND_WORDS: dict[str, str] = {
    "heartbeat-lost": "Heartbeat lost",
    "heartbeat-lost-cpu-flat": "Heartbeat lost, CPU idle (guest halted)",
    "heartbeat-lost-cpu-pegged": "Heartbeat lost, CPU pegged (guest spinning)",
    "heartbeat-not-restored": "No heartbeat after restart",
    "uptime-stalled": "Uptime not advancing",
    "vm-critical-state": "VM in a critical state",
    "vm-degraded": "VM degraded",
    "applications-critical": "Guest applications critical",
    "stuck-transition": "Stuck in a state change",
    "restart-loop": "Restarting again and again",
    "guest-crash-events": "Guest crashed (events)",
    "hyperv-error-events": "Hyper-V errors (events)",
    "host-unreachable": "Host not answering",
    "host-poll-failing": "Host polls failing",
    "vmms-unresponsive": "VM management service not responding",
    "vmms-not-running": "VM management service not running",
    "host-wide-failure": "Many VMs failed together",
    "host-crash-events": "Host crashed or a service died (events)",
    "cluster-failure-events": "Cluster failures (events)",
}

# "1603607 s" in evidence: counts of an hour or more read better as "18 d 13 h".
_LONG_SECONDS = re.compile(r"\b(\d{4,}) s\b")
LONG_SECONDS_FROM = 3600


def kind_words(kind: str) -> str:
    """``heartbeat-lost-cpu-pegged`` → "Heartbeat lost, CPU pegged (guest spinning)"; an
    unknown kind (a newer detector) is turned into words by its hyphens."""
    words = KIND_WORDS.get(kind)
    if words is not None:
        return words
    plain = kind.replace("-", " ").replace("_", " ").strip()
    return plain[:1].upper() + plain[1:] if plain else "Finding"


def evidence_words(line: str) -> str:
    """One evidence line with long second counts as days/hours/minutes."""
    def repl(match: re.Match[str]) -> str:
        seconds = int(match.group(1))
        return format_duration(seconds) if seconds >= LONG_SECONDS_FROM else match.group(0)
    return _LONG_SECONDS.sub(repl, line)
