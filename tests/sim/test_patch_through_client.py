"""End to end: the shipped ``patch_*.ps1`` scripts sent by the real client
(``remote.session.HostSession``) over WS-Management to a served simulated site, recognised
by the host agent by their exact body and answered by the simulated host. The site runs on
a manual clock: each call moves it by the script's run time, and the test moves it through
the install and the reboot (during which the endpoint refuses connections). With Samba
available, a host's ``C:\\`` is a real share the package was pushed to over SMB."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

import pytest

pytest.importorskip("hvconsole.sim.wsman")

from hvconsole.remote.collector import Collector  # noqa: E402
from hvconsole.remote.errors import RemoteError  # noqa: E402
from hvconsole.remote.session import HostSession  # noqa: E402
from hvconsole.remote.target import Target  # noqa: E402
from hvconsole.sim.scenarios.patch import PACKAGE_DIR, PACKAGE_FILE, PACKAGE_PATH, PATCH_SCENARIOS  # noqa: E402
from hvconsole.sim.serve import ServedHost, ServedSite, serve_site  # noqa: E402

RESULT = "C:\\hvconsole\\results\\KB5061906.json"
TASK = "hvconsole-KB5061906"


def target(h: ServedHost) -> Target:
    return Target(name=h.name, url=h.url, username=h.user, password=h.password, transport="plaintext")


def run(session: HostSession, script: str, params: dict[str, Any]) -> dict[str, Any]:
    result = session.run_script(script, params, timeout_s=30)
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)


def advance(served: ServedSite, seconds: float) -> None:
    served.site.clock.advance(seconds)
    served.sync()                       # the endpoint follows the host (refuse while down)


def until(served: ServedSite, condition, max_s: float, every_s: float = 5.0) -> bool:
    waited = 0.0
    while not condition():
        if waited > max_s:
            return False
        advance(served, every_s)
        waited += every_s
    return True


@pytest.fixture
def served() -> Iterator[ServedSite]:
    site = PATCH_SCENARIOS["patch-two-reboots"].build()
    with serve_site(site, latency_scale=0.0) as s:
        yield s


def test_a_whole_patch_run_through_the_real_client(served: ServedSite) -> None:
    scenario = PATCH_SCENARIOS["patch-two-reboots"]
    h = served.host("HV01")
    host = h.sim
    session = HostSession(target(h))
    try:
        pre = run(session, "patch_preflight", {"staging_dir": PACKAGE_DIR, "package_file": PACKAGE_FILE,
                                               "required_free_mb": 4096})
        assert (pre["build"], pre["ubr"], pre["staged"]["sha256"]) == (20348, 3692, scenario.sha256)
        running = [v["id"] for v in pre["vms"] if v["state"] == "Running" and v["heartbeat"] != "NoContact"]
        assert run(session, "patch_stage_check", {"path": PACKAGE_PATH, "sha256": scenario.sha256})["matches"]
        drained = run(session, "patch_drain", {"vms": [{"id": i, "action": "save"} for i in running],
                                               "cluster_drain": False, "timeout_s": 900})
        assert [r["state_after"] for r in drained["vms"]] == ["Saved"] * len(running)
        install = {"package_path": PACKAGE_PATH, "task_name": TASK, "result_path": RESULT, "method": "auto"}
        assert run(session, "patch_install_start", install)["state"] == "started"
        assert run(session, "patch_install_start", install)["state"] == "running"
        status = {"task_name": TASK, "result_path": RESULT}
        assert until(served, lambda: run(session, "patch_install_status", status)["state"] == "done", 1200, 30)
        assert run(session, "patch_install_status", status)["exit_code"] == 3010
        boots = [pre["last_boot"]]
        for _ in range(2):
            answer = run(session, "patch_reboot", {"delay_s": 30, "comment": "hvconsole test"})
            assert answer["scheduled"] and answer["last_boot"] == boots[-1]
            assert until(served, lambda: host.reachability() == "down", 600)
            with pytest.raises(RemoteError) as refused:
                session.run_script("patch_preflight", {"staging_dir": PACKAGE_DIR}, timeout_s=10)
            assert refused.value.kind == "refused"
            assert until(served, lambda: host.reachability() == "up" and host.services(served.site.t)["vmms"] == "Running",
                         1800)
            after = run(session, "patch_preflight", {"staging_dir": PACKAGE_DIR})   # a new shell: the old one died
            assert after["last_boot"] > boots[-1]
            boots.append(after["last_boot"])
        assert (after["ubr"], after["pending_reboot"]) == (3695, False)
        assert until(served, lambda: all(v.state != "Starting" for v in host.vms), 300)
        restored = run(session, "patch_restore", {"vms": [{"id": i, "action": "start"} for i in running],
                                                  "cluster_resume": False, "failback": None})
        assert all(r["ok"] and r["state_after"] == "Running" for r in restored["vms"])
        cleaned = run(session, "patch_cleanup", {"task_name": TASK, "remove_package_path": PACKAGE_PATH})
        assert cleaned == {"task_removed": True, "package_removed": True, "warnings": []}
    finally:
        session.close()
    collector = Collector(target(h), timeout_s=20)
    try:
        snap = collector.poll()
    finally:
        collector.close()
    assert snap.reachable and snap.os is not None and (snap.os.build, snap.os.ubr) == (20348, 3695)
    assert "KB5061906" in snap.os.hotfixes and snap.os.pending_reboot is False


def test_a_bad_parameter_is_an_hvc_error_through_the_client(served: ServedSite) -> None:
    session = HostSession(target(served.host("HV02")))
    try:
        result = session.run_script("patch_install_start", {"package_path": "C:\\Windows\\evil.msu", "task_name": TASK,
                                                            "result_path": RESULT}, timeout_s=30)
    finally:
        session.close()
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"hvc_error": {"message": "package_path must be a plain path under C:\\hvconsole\\",
                                                       "where": "params"}}
    assert not served.host("HV02").sim.patch.tasks


@pytest.mark.integration
def test_stage_over_real_smb_then_check_and_install_from_that_folder(tmp_path) -> None:
    from hvconsole.remote.smb_stage import push_package
    from tests.support import samba

    reason = samba.available()
    if reason:
        pytest.skip(reason)
    server = samba.start(tmp_path / "samba")
    scenario = PATCH_SCENARIOS["patch-ok"]
    local = tmp_path / PACKAGE_FILE
    local.write_bytes(scenario.package())
    try:
        site = scenario.build()
        site.host("HV01").patch.mount_folder(server.share_dir)     # C:\ of HV01 is the C$ share
        pushed = push_package(local, "127.0.0.1", username=server.user, password=server.password, port=server.port,
                              expected_sha256=scenario.sha256)
        assert pushed.host_path == PACKAGE_PATH
        with serve_site(site, latency_scale=0.0) as served:
            session = HostSession(target(served.host("HV01")))
            try:
                check = run(session, "patch_stage_check", {"path": PACKAGE_PATH, "sha256": scenario.sha256})
                assert check["matches"] and check["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
                install = {"package_path": PACKAGE_PATH, "task_name": TASK, "result_path": RESULT}
                assert run(session, "patch_install_start", install)["state"] == "started"
                assert until(served, lambda: (server.share_dir / "hvconsole" / "results" / "KB5061906.json").exists(),
                             1200, 30)
            finally:
                session.close()
        written = json.loads((server.share_dir / "hvconsole" / "results" / "KB5061906.json").read_text())
        assert written["exit_code"] == 3010 and written["method"] == "dism"
    finally:
        server.stop()
