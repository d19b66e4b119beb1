"""MaintenanceRegistry: windows per host or VM, with expiry, optional start, thread-safe."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from hvconsole.core.maintenance import MaintenanceRegistry

T = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
VM = "3F2C6B1E-8D1A-4C55-9A9E-0B7B1C2D3E01"


def test_host_window_covers_the_host_and_its_vms_until_it_expires():
    reg = MaintenanceRegistry()
    reg.begin("HV01", until=T + timedelta(minutes=30), reason="patch KB5061906")
    assert reg.covers("HV01", None, T)
    assert reg.covers("hv01", VM.lower(), T + timedelta(minutes=29))
    assert not reg.covers("HV01", None, T + timedelta(minutes=30))  # until is exclusive
    assert not reg.covers("HV02", None, T)
    assert reg.window_for("HV01", None, T).reason == "patch KB5061906"


def test_vm_window_covers_only_that_vm_and_ids_match_case_insensitively():
    reg = MaintenanceRegistry()
    reg.begin("HV01", VM, until=T + timedelta(minutes=5), reason="reinstall")
    assert reg.covers("HV01", VM.lower(), T)
    assert not reg.covers("HV01", None, T)
    assert not reg.covers("HV01", "another", T)
    assert reg.covered_vm_ids("HV01", T) == {VM.lower()}
    assert reg.covered_vm_ids("HV01", T + timedelta(minutes=6)) == frozenset()


def test_since_bounds_the_start_so_a_recorded_window_replays():
    reg = MaintenanceRegistry()
    reg.begin("HV01", since=T + timedelta(minutes=10), until=T + timedelta(minutes=20), reason="reboot")
    assert not reg.covers("HV01", None, T + timedelta(minutes=9))
    assert reg.covers("HV01", None, T + timedelta(minutes=10))


def test_end_and_prune():
    reg = MaintenanceRegistry()
    reg.begin("HV01", until=T + timedelta(minutes=5), reason="a")
    reg.begin("HV02", until=T + timedelta(minutes=50), reason="b")
    assert reg.end("HV01") is True and reg.end("HV01") is False
    assert not reg.covers("HV01", None, T)
    assert reg.prune(T + timedelta(hours=1)) == 1
    assert reg.windows() == []


@pytest.mark.parametrize("kwargs, message", [
    ({"until": datetime(2026, 11, 25, 10, 0), "reason": "x"}, "aware"),
    ({"until": T, "reason": "  "}, "reason"),
    ({"until": T, "reason": "x", "since": T}, "before until"),
])
def test_begin_validates(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaintenanceRegistry().begin("HV01", **kwargs)


def test_concurrent_begin_and_covers_do_not_corrupt_the_registry():
    reg = MaintenanceRegistry()
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for n in range(300):
                reg.begin(f"HV{i}", f"vm{n % 7}", until=T + timedelta(hours=1), reason="r")
                reg.end(f"HV{i}", f"vm{(n + 3) % 7}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(600):
                reg.covered_vm_ids("HV1", T)
                reg.covers("HV2", "vm1", T)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)] + [threading.Thread(target=reader)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not errors
    assert all(not th.is_alive() for th in threads)
