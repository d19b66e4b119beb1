"""The terminal view of a report (`hvconsole patch report RUN`) says what the HTML says:
a simulated site is named, a host left pending a reboot is named with what to do, and
host text cannot act on the terminal."""

from __future__ import annotations

from hvconsole.cli.patch_text import report_text


def report(**extra):
    host = {"host": "HV01", "status": "cancelled", "build_before": "20348.3692", "build_after": "20348.3692",
            "install_exit_code": 3010, "install_meaning": "installed, reboot required",
            "pending_reboot": True, "pending_reboot_reason": "cancelled after the install; restart HV01\x1b[2J"}
    return {"run": 3, "kb": "KB5061906", "state": "cancelled", "hosts": [host],
            "summary": {"hosts": 1, "verified": 0, "failed": 0}, **extra}


def test_a_simulated_run_says_so_and_a_real_one_does_not():
    assert "simulated site" in report_text(report(simulated=True))
    assert "simulated" not in report_text(report(simulated=False))


def test_a_host_pending_a_reboot_is_named_and_its_text_is_cleaned():
    text = report_text(report(simulated=False))
    assert "HV01: installed, reboot pending" in text
    assert "\x1b" not in text
