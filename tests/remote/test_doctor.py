"""``hvconsole doctor`` against a simulated host behind a real WS-Management endpoint on
loopback: every check passes on a healthy host, and each injected fault (refused, 401, the
wrong scheme, not an administrator, VMMS stopped, a quota exhausted, the clock 10 minutes
off, the disk nearly full, ...) is named on its own line with its fix, never the password."""

from __future__ import annotations

import json

import pytest

from hvconsole.credentials import Secret
from hvconsole.doctor.checks import CHECKS, DoctorReport, Verdict, host_for_target, run_doctor
from hvconsole.remote.target import CancelToken
from hvconsole.sim.agent.doctor import DoctorProfile, set_doctor_profile
from hvconsole.sim.agent.probe import ProbeProfile, set_probe_profile
from hvconsole.sim.wsman.tls import issue_certificate
from tests.integration.simhost import sim_endpoint

pytestmark = pytest.mark.timeout(120)


def doctor(sim, host=None, password=None, **kw) -> DoctorReport:
    password = sim.password if password is None else password
    seen = []
    report = run_doctor(host or sim.host(), Secret(password), clock=sim.site.clock.now,
                        on_result=seen.append, **kw)
    # Every line once, in the documented order, as the live display saw them.
    assert [r.key for r in report.results] == [c.key for c in CHECKS]
    assert seen == report.results
    shown = json.dumps(report.to_dict(), ensure_ascii=False)
    assert password not in shown and sim.password not in shown, "a password leaked into the report"
    return report


def line(report: DoctorReport, key: str):
    result = report.result(key)
    assert result is not None
    return result


def only_failures(report: DoctorReport) -> set[str]:
    return {r.key for r in report.failures}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return issue_certificate(tmp_path_factory.mktemp("tls"))


# -- a healthy host -----------------------------------------------------------------------

@pytest.mark.parametrize("auth, transport", [("basic", "plaintext"), ("ntlm", "ntlm")])
def test_a_healthy_host_passes_every_check(auth: str, transport: str) -> None:
    with sim_endpoint(auth=auth) as sim:
        report = doctor(sim, sim.host(transport=transport))
    assert report.ok, [r.to_dict() for r in report.failures]
    assert line(report, "tls").verdict is Verdict.NOT_APPLICABLE
    assert {r.verdict for r in report.results} <= {Verdict.PASS, Verdict.NOT_APPLICABLE}
    assert "FullLanguage" in line(report, "powershell").detail
    assert "30 shells per user" in line(report, "quotas").detail
    assert "valid snapshot-v1" in line(report, "script:collect").detail
    assert report.snapshot is not None and report.snapshot.reachable and report.snapshot.vms == ()
    assert set(report.raw_answers) == {"doctor", "collect", "patch_preflight", "patch_stage_check", "audit"}
    assert json.loads(report.raw_answers["doctor"])["language_mode"] == "FullLanguage"
    # kept as JSON, not in the compressed wire form: the bundle's redaction reads it
    assert "vms" in json.loads(report.raw_answers["collect"])


def test_https_with_its_ca_passes_and_checks_tls(tls) -> None:
    with sim_endpoint(auth="ntlm", tls=tls) as sim:
        report = doctor(sim, sim.host(transport="https", ca_bundle=tls.ca_file))
    assert report.ok and line(report, "tls").verdict is Verdict.PASS
    assert "Negotiate" in line(report, "listener").detail


# -- each fault: named on its line, with its fix ------------------------------------------

def test_refused() -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.refuse()
        report = doctor(sim)
    tcp = line(report, "tcp")
    assert tcp.verdict is Verdict.FAIL and tcp.fault == "refused"
    assert "Enable-PSRemoting" in tcp.fix and f"TCP {sim.port}" in tcp.fix
    assert line(report, "resolve").verdict is Verdict.PASS
    assert line(report, "auth").verdict is Verdict.NOT_RUN and "tcp reach" in line(report, "auth").detail
    assert only_failures(report) == {"tcp"} and not report.ok


def test_401_wrong_password() -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.unauthorized()
        report = doctor(sim)
    auth = line(report, "auth")
    assert auth.verdict is Verdict.FAIL and auth.fault == "credentials-rejected"
    assert "rejected the user name or password" in auth.detail and "Basic authentication" in auth.fix
    assert line(report, "listener").verdict is Verdict.PASS
    assert line(report, "admin").verdict is Verdict.NOT_RUN and only_failures(report) == {"auth"}


def test_wrong_auth_scheme_basic_against_a_negotiate_host() -> None:
    with sim_endpoint(auth="ntlm") as sim:
        report = doctor(sim, sim.host(transport="plaintext"))
    listener = line(report, "listener")
    assert listener.verdict is Verdict.FAIL and listener.fault == "auth-scheme"
    assert "offers Negotiate, not Basic" in listener.detail
    assert "Auth\\Basic $true" in listener.fix and "ntlm or kerberos" in listener.fix
    assert line(report, "auth").verdict is Verdict.FAIL


def test_wrong_scheme_plain_http_to_an_https_listener(tls) -> None:
    with sim_endpoint(auth="ntlm", tls=tls) as sim:
        report = doctor(sim, sim.host(transport="ntlm"))
    listener = line(report, "listener")
    assert listener.verdict is Verdict.FAIL and listener.fault == "wrong-port-scheme"
    assert "is an HTTPS listener" in listener.detail and "choose the https transport" in listener.fix
    assert line(report, "script:collect").verdict is Verdict.NOT_RUN


def test_wrong_scheme_https_to_a_plain_http_listener() -> None:
    with sim_endpoint(auth="ntlm") as sim:
        report = doctor(sim, sim.host(transport="https", verify_tls=False))
    tls_line = line(report, "tls")
    assert tls_line.verdict is Verdict.FAIL and "does not seem to speak HTTPS" in tls_line.fix


def test_not_an_administrator() -> None:
    with sim_endpoint() as sim:
        set_probe_profile(sim.sim, ProbeProfile(user="CORP\\helpdesk", is_admin=False, in_hyperv_admins=False))
        report = doctor(sim)
    admin = line(report, "admin")
    assert admin.verdict is Verdict.FAIL and admin.fault == "not-admin"
    assert "CORP\\helpdesk" in admin.detail and "Add-LocalGroupMember" in admin.fix
    # The shell works: the remaining checks still ran, and the quotas (admin-only) say why not.
    assert line(report, "hyperv").verdict is Verdict.PASS
    assert line(report, "clock").verdict is Verdict.PASS
    quotas = line(report, "quotas")
    assert quotas.verdict is Verdict.FAIL and "administrators only" in quotas.detail


def test_vmms_stopped() -> None:
    with sim_endpoint() as sim:
        sim.sim.stop_vmms()
        report = doctor(sim)
    hyperv = line(report, "hyperv")
    assert hyperv.verdict is Verdict.FAIL and hyperv.fault == "vmms-not-running"
    assert "vmms is Stopped" in hyperv.detail and "Start-Service vmms" in hyperv.fix
    # collect still answers (the VM query fails, which it reports as data)
    assert "VM query failed" in line(report, "script:collect").detail
    assert only_failures(report) == {"hyperv"}


def test_quota_exhausted_when_opening_a_shell() -> None:
    with sim_endpoint() as sim:
        sim.endpoint.faults.fault_next("quota", count=4)
        report = doctor(sim)
    quotas = line(report, "quotas")
    assert quotas.verdict is Verdict.FAIL and quotas.fault == "quota"
    assert "quota is exhausted" in quotas.detail and "MaxShellsPerUser" in quotas.fix
    assert line(report, "auth").verdict is Verdict.PASS
    assert line(report, "script:collect").verdict is Verdict.NOT_RUN


def test_quota_set_too_low() -> None:
    with sim_endpoint() as sim:
        set_doctor_profile(sim.sim, DoctorProfile(max_shells_per_user=2))
        report = doctor(sim)
    quotas = line(report, "quotas")
    assert quotas.verdict is Verdict.FAIL and "2 shells per user" in quotas.detail
    assert "MaxShellsPerUser" in quotas.fix and only_failures(report) == {"quotas"}


def test_clock_ten_minutes_off() -> None:
    with sim_endpoint() as sim:
        sim.sim.clock_skew_s = 600.0
        report = doctor(sim)
    clock = line(report, "clock")
    assert clock.verdict is Verdict.FAIL and clock.fault == "clock-offset"
    assert "10 min" in clock.detail and "ahead of" in clock.detail and "w32tm /resync" in clock.fix
    assert only_failures(report) == {"clock"}


def test_clock_behind_is_said_too() -> None:
    with sim_endpoint() as sim:
        sim.sim.clock_skew_s = -400.0
        report = doctor(sim)
    assert "behind" in line(report, "clock").detail and line(report, "clock").verdict is Verdict.FAIL


def test_disk_nearly_full() -> None:
    with sim_endpoint() as sim:
        sim.sim.system_drive_free_mb = 2048
        report = doctor(sim)
    disk = line(report, "disk")
    assert disk.verdict is Verdict.FAIL and disk.fault == "disk-full"
    assert "2,04" in disk.detail and "StartComponentCleanup" in disk.fix
    assert only_failures(report) == {"disk"}


def test_constrained_language_mode() -> None:
    with sim_endpoint() as sim:
        set_doctor_profile(sim.sim, DoctorProfile(language_mode="ConstrainedLanguage"))
        report = doctor(sim)
    ps = line(report, "powershell")
    assert ps.verdict is Verdict.FAIL and "ConstrainedLanguage" in ps.detail and "FullLanguage" in ps.fix


def test_a_hung_host_is_cut_off_at_the_deadline() -> None:
    from hvconsole.doctor.checks import DoctorTimeouts
    with sim_endpoint() as sim:
        sim.endpoint.faults.hang()
        report = doctor(sim, timeouts=DoctorTimeouts(connection=2, listener=2))
        sim.endpoint.faults.clear()
    failing = report.failures
    assert failing and failing[0].key == "listener" and "Restart-Service WinRM" in failing[0].fix


def test_cancel_before_it_starts_runs_nothing() -> None:
    token = CancelToken()
    token.cancel()
    with sim_endpoint() as sim:
        report = doctor(sim, cancel=token)
    assert report.cancelled and not report.ok
    assert {r.verdict for r in report.results} == {Verdict.NOT_RUN}


def test_host_for_target_round_trips_the_demo_targets() -> None:
    from hvconsole.remote.probe import target_for
    with sim_endpoint() as sim:
        host = sim.host()
        again = host_for_target(target_for(host, "x"))
    assert (again.name, again.address, again.port, again.transport, again.username) == \
        (host.name, host.address, host.port, host.transport, host.username)


def test_a_compressed_answer_is_kept_as_its_json_and_a_broken_one_as_a_sentence() -> None:
    from hvconsole.doctor.checks import _readable_answer
    from hvconsole.sim.agent.collect import wire_answer

    text = json.dumps({"vms": [{"name": "payroll-db <&>"}]})
    packed = wire_answer(text).decode("ascii")
    assert packed.startswith("HVCZ1:")
    assert json.loads(_readable_answer(packed, host="HV01", script="collect")) == json.loads(text)
    assert _readable_answer('{"plain": 1}\n', host="HV01", script="collect") == '{"plain": 1}\n'
    broken = _readable_answer("HVCZ1:not base64!", host="HV01", script="collect")
    assert broken.startswith("(an answer that does not decode:") and "payroll" not in broken
