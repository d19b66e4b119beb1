"""The window's Qt-free rules: the Compliance column's verdict, the "fix available" match,
findings in words, the maintenance feed (with the real freeze detector), and the check for
the libraries Qt's xcb plugin needs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from ui_support import T0, down, make_snapshot, make_vm

from hvconsole.core.catalog import Catalog, parse_catalog
from hvconsole.core.detector import KINDS, Detector
from hvconsole.monitoring.finding_words import KIND_WORDS, evidence_words, kind_words
from hvconsole.monitoring.host_compliance import (
    FREEZE_KINDS,
    CatalogSource,
    FreezeFix,
    fix_offers,
    is_freeze_fix_symptom,
    summarize,
)
from hvconsole.monitoring.maintenance_feed import HOLD, MaintenanceFeed
from hvconsole.ui import platform_check

CATALOG = Catalog(updates=tuple(parse_catalog({
    "schema": "hvconsole.catalog/1",
    "updates": [
        {"kb": "KB9990001", "title": "Fix: VMs stop responding", "released": "2025-05-23", "kind": "OOB",
         "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 3695}],
         "symptoms": ["Started after KB5058385", "Hyper-V VMs stop responding (heartbeat lost) or restart"]},
        {"kb": "KB9990002", "title": "Fix: VMs fail to boot", "released": "2025-05-24", "kind": "OOB",
         "targets": [{"product": "Windows Server 2022", "build": 20348, "min_ubr": 3600}],
         "symptoms": ["VMs with VBS enforced cannot start"]},
        {"kb": "KB9990003", "title": "Fix for 2025", "released": "2025-05-25", "kind": "OOB",
         "targets": [{"product": "Windows Server 2025", "build": 26100, "min_ubr": 4656}],
         "symptoms": ["VMs freeze"]},
    ]}, "test")[0]))


def snap(ubr: int = 3692, *, build: int = 20348, pending: bool = False, hotfixes=()):
    s = make_snapshot("HV01", (make_vm("HV01", 1),), T0)
    return replace(s, os=replace(s.os, build=build, ubr=ubr, pending_reboot=pending, hotfixes=tuple(hotfixes)))


# -- the Compliance column ------------------------------------------------------------------

def test_a_host_below_a_target_needs_the_update_with_its_reason():
    c = summarize("HV01", snap(3692), CATALOG)
    assert (c.status, c.text) == ("needs-update", "needs update (KB9990001)")
    assert c.needs == ("KB9990001",)
    assert any(r.startswith("KB9990001: build 20348.3692 is below 20348.3695") for r in c.reasons)
    assert any(r.startswith("KB9990002: build 20348.3692 is at or above 20348.3600") for r in c.reasons)
    assert c.freeze_fixes == (FreezeFix("KB9990001", "Fix: VMs stop responding",
                                        "Hyper-V VMs stop responding (heartbeat lost) or restart"),)


@pytest.mark.parametrize("kwargs,status,text", [
    ({"ubr": 3695}, "compliant", "compliant"),
    ({"ubr": 3692, "pending": True, "hotfixes": ("KB9990001",)}, "pending-reboot", "pending reboot (KB9990001)"),
    ({"build": 17763, "ubr": 100}, "not-applicable", "not applicable"),
])
def test_other_verdicts(kwargs, status, text):
    c = summarize("HV01", snap(**kwargs), CATALOG)
    assert (c.status, c.text) == (status, text)
    assert c.freeze_fixes == ()
    if status == "not-applicable":
        assert c.reasons == ("no update in the catalog targets build 17763.100",)


def test_unknown_when_never_answered_or_the_catalog_is_unreadable():
    assert summarize("HV01", None, CATALOG).text == "unknown"
    unreachable = summarize("HV01", down("HV01", T0), CATALOG)
    assert unreachable.text == "unknown" and "unreachable" in unreachable.reasons[0]
    broken = CatalogSource(lambda: (_ for _ in ()).throw(ValueError("updates.json: bad JSON")))
    catalog, problem = broken.get()
    assert catalog is None and "bad JSON" in problem
    c = summarize("HV01", snap(), catalog, problem)
    assert c.text == "unknown" and "bad JSON" in c.reasons[0]


def test_the_catalog_is_read_once():
    calls = []
    source = CatalogSource(lambda: calls.append(1) or CATALOG)
    assert source.get() == (CATALOG, None) and source.get() == (CATALOG, None)
    assert calls == [1]


# -- the "fix available" rule -----------------------------------------------------------------

@pytest.mark.parametrize("symptom,matches", [
    ("Hyper-V VMs stop responding (heartbeat lost) or restart unexpectedly", True),
    ("VMs stopped responding after the update", True),
    ("Guests froze under load", True),
    ("Cluster service restarts in a loop; clustered VMs restart", True),
    ("Hosts hang at boot", True),
    ("VMs with virtualization-based security enforced cannot start", False),
    ("Creating or starting VMs fails on hosts managed by SDN", False),
    ("Started after installing KB5058385 (20348.3692)", False),
])
def test_which_symptoms_describe_a_freeze(symptom, matches):
    assert is_freeze_fix_symptom(symptom) is matches


@dataclass(frozen=True)
class F:
    host: str
    kind: str
    active: bool = True


def test_offers_need_an_active_freeze_finding_on_a_host_lacking_the_fix():
    fix = FreezeFix("KB9990001", "t", "VMs stop responding")
    fixes = {"HV01": (fix,), "HV05": (fix,)}
    assert fix_offers([F("HV01", "vm-degraded"), F("HV02", "heartbeat-lost")], fixes) == {}
    assert fix_offers([F("HV01", "heartbeat-lost", active=False)], fixes) == {}
    offers = fix_offers([F("HV05", "uptime-stalled"), F("HV01", "heartbeat-lost-cpu-flat"),
                         F("HV05", "heartbeat-lost")], fixes)
    assert offers == {"KB9990001": (fix, ["HV05", "HV01"])}


def test_freeze_kinds_are_detector_kinds():
    assert FREEZE_KINDS <= set(KINDS)


# -- findings in words ----------------------------------------------------------------------------

def test_every_detector_kind_has_words():
    assert set(KINDS) <= set(KIND_WORDS)
    assert all(kind_words(k) != k and k not in kind_words(k) for k in KINDS)
    assert kind_words("heartbeat-lost-cpu-pegged") == "Heartbeat lost, CPU pegged (guest spinning)"
    assert kind_words("brand-new-rule") == "Brand new rule"


def test_long_second_counts_read_as_durations():
    assert evidence_words("uptime 1603607 s at 09:00:00, 1603612 s at 09:00:30: advanced 5 s in 30 s") == \
        "uptime 18 d 13 h at 09:00:00, 18 d 13 h at 09:00:30: advanced 5 s in 30 s"
    assert evidence_words("lost for 300 s") == "lost for 300 s"
    assert evidence_words("uptime 7260 s") == "uptime 2 h 01 min"


# -- maintenance from the journal, through the real detector -------------------------------------------

@dataclass(frozen=True)
class Active:        # hvconsole.patch.watch.ActiveMaintenance, as far as the window reads it
    run_id: int
    host: str
    step: str


def frozen_polls(detector: Detector, start: int, count: int):
    """Polls of HV01 whose VM is Running with its heartbeat lost (a freeze to the detector)."""
    changed = []
    for k in range(start, start + count):
        vm = make_vm("HV01", 1, heartbeat="LostCommunication", cpu=0.0, uptime_s=86400 + 5 * k)
        changed += detector.feed(make_snapshot("HV01", (vm,), T0 + timedelta(seconds=5 * k)))
    return changed


def test_a_host_in_a_patch_runs_maintenance_window_raises_no_findings():
    feed = MaintenanceFeed()
    detector = Detector(maintenance=feed.registry)
    assert feed.update([Active(7, "hv01", "install")], T0) == {"hv01"}   # names ignore case
    assert feed.patching("HV01").text == "patching: install"
    assert [f for f in frozen_polls(detector, 0, 60) if f.active] == []
    # The run leaves maintenance: the same freeze is found again.
    assert feed.update([], T0 + timedelta(seconds=300)) == {"hv01"}
    assert feed.patching("HV01") is None
    found = [f for f in frozen_polls(detector, 60, 60) if f.active]
    assert found and found[0].severity == "critical"


def test_the_feed_keeps_registry_windows_open_while_the_journal_says_so():
    feed = MaintenanceFeed()
    feed.update([Active(7, "HV01", "reboot")], T0)
    late = T0 + HOLD - timedelta(minutes=1)
    feed.renew(late)
    assert feed.registry.covers("HV01", None, T0 + HOLD + timedelta(hours=1))
    assert "patch run 7: reboot" in feed.registry.windows()[0].reason


# -- Qt's xcb plugin libraries ---------------------------------------------------------------------------

def test_missing_xcb_libraries_are_named_with_their_packages():
    present = {"libxcb-icccm.so.4": False, "libxcb-keysyms.so.1": False}
    hint = platform_check.check_platform({"DISPLAY": ":0"}, "linux", lambda lib: present.get(lib, True))
    assert hint == ("hvconsole: Qt's xcb platform plugin cannot load libxcb-icccm.so.4, libxcb-keysyms.so.1; "
                    "install: sudo apt install libxcb-icccm4 libxcb-keysyms1")


@pytest.mark.parametrize("env,platform,checked", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_the_check_runs_only_when_qt_will_use_xcb(env, platform, checked):
    asked = []
    platform_check.check_platform(env, platform, lambda lib: asked.append(lib) or True)
    assert bool(asked) is checked


def test_every_library_has_a_package():
    assert platform_check.check_platform({}, "linux", lambda lib: True) is None
    assert all(pkg and " " not in pkg for pkg in platform_check.XCB_LIBRARIES.values())
