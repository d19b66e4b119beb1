"""The simulated host's C: drive (in memory, or a real folder that never leaks outside
itself) and the run time of a patch script: scaled by the clock's speed when it runs,
moving the clock by that much when it is manual."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from patch_support import START, small_site, vm_id

from hvconsole.sim.model.clock import SimClock
from hvconsole.sim.agent.patch import HANDLERS
from hvconsole.sim.model.host_drive import FolderDrive, MemoryDrive, PathError, full_path
from hvconsole.sim.model import SimHost, SimSite, SimVM


@pytest.mark.parametrize("text, normal", [
    ("C:\\hvconsole\\packages\\a.msu", "C:\\hvconsole\\packages\\a.msu"),
    ("c:/hvconsole//packages/./a.msu", "C:\\hvconsole\\packages\\a.msu"),
    ("C:\\hvconsole\\x\\..\\..\\Windows\\a.msu", "C:\\Windows\\a.msu"),
    ("C:\\..\\..\\a.msu", "C:\\a.msu"),
    ("C:\\hvconsole\\a.msu. ", "C:\\hvconsole\\a.msu"),
])
def test_full_path_normalises_like_getfullpath(text: str, normal: str) -> None:
    assert full_path(text) == normal


@pytest.mark.parametrize("text", ["", "hvconsole\\a.msu", "\\\\server\\share\\a", "C:\\a\\b:stream",
                                  "C:\\a<b", "C:\\a\x00b", 5, "C:\\" + "a" * 300])
def test_full_path_refuses_what_is_not_a_local_absolute_path(text: object) -> None:
    with pytest.raises(PathError):
        full_path(text)


def test_memory_drive_ignores_case_like_ntfs() -> None:
    drive = MemoryDrive()
    drive.write("C:\\HVConsole\\A.msu", b"abc")
    assert drive.read("c:/hvconsole/a.MSU") == b"abc" and drive.size("C:\\hvconsole\\a.msu") == 3
    assert drive.delete("C:\\HVCONSOLE\\A.MSU") and drive.read("C:\\HVConsole\\A.msu") is None


def test_folder_drive_maps_c_onto_the_folder_and_never_outside(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    drive = FolderDrive(root)
    drive.write("C:\\hvconsole\\results\\r.json", b"{}")
    assert (root / "hvconsole" / "results" / "r.json").read_bytes() == b"{}"
    assert drive.read("C:\\HVCONSOLE\\Results\\R.JSON") == b"{}"
    (tmp_path / "secret").write_bytes(b"outside")
    os.symlink(tmp_path, root / "escape")
    with pytest.raises(PathError):
        drive.read("C:\\escape\\secret")
    with pytest.raises(PathError):
        drive.read("D:\\hvconsole\\r.json")
    assert drive.read("C:\\..\\secret") is None          # '..' stops at the drive's root


def test_run_time_is_scaled_by_a_running_clocks_speed() -> None:
    site = SimSite(SimClock(datetime.now(timezone.utc), speed=1000.0), seed=7)
    host = site.add_host(SimHost("HV01"))
    host.add_vm(SimVM("A0", vm_id(1), memory_mb=16384))
    with site.acting():
        answer = HANDLERS["patch_drain"](host, {"vms": [{"id": vm_id(1), "action": "save"}]}, site.time_of(site.t))
    save_s = host.vm("A0").transition_end_t - site.t_of(site.time_of(site.t))
    assert 3 + 16 <= save_s * 1.0 <= 3 + 16 * 2.5 + 5
    assert answer.duration_s == pytest.approx((save_s + 0.5 + 0.25) / 1000.0, rel=0.05)


def test_a_manual_clock_moves_by_the_run_time() -> None:
    site = small_site()
    before = site.clock.now()
    with site.acting():
        answer = HANDLERS["patch_drain"](site.host("HV01"), {"vms": [{"id": vm_id(1), "action": "save"}]},
                                         site.time_of(site.t))
    moved = (site.clock.now() - before).total_seconds()
    assert moved == pytest.approx(answer.duration_s) and moved > 10
    assert site.vm("A0").state == "Saved" and site.clock.now() > START
