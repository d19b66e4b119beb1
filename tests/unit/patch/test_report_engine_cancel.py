"""The pending-reboot section from a journal the real engine wrote: a cancel requested
while the installer runs lets the install finish (it acts between steps), skips the
restart, puts the VMs back, and the report then says plainly which host waits for a
restart and what to do."""

from __future__ import annotations

import html

from hvconsole.core.patch.report import PENDING_REBOOT_ADVICE, build_report, render_html
from hvconsole.patch.control import request

from test_engine_fakes import fake_site, new_run, plan_for, run


def outcomes(journal, run_id, host):
    return [(r.step, r.outcome) for r in journal.steps(run_id, host)]


def test_a_cancel_during_the_install_leaves_the_host_pending_a_reboot(tmp_path):
    hosts = fake_site("HV01", "HV02")
    journal, run_id = new_run(tmp_path, plan_for(("HV01",), ("HV02",)))

    def cancel_at_install(script, params):
        if script == "patch_install_start":
            request(journal, run_id, "cancel")
    hosts["HV01"].on_call = cancel_at_install
    result = run(journal, run_id, hosts)
    assert result.state == "cancelled"
    steps = outcomes(journal, run_id, "HV01")
    assert ("install", "ok") in steps and ("reboot", "ok") not in steps, steps

    report = build_report(journal, run_id)
    journal.close()
    assert report["pending_reboot"] == ["HV01"]
    hv01 = report["hosts"][0]
    assert hv01["pending_reboot"] and hv01["pending_reboot_reason"].startswith("installed;")
    page = render_html(report)
    assert "<h2>Pending reboot</h2>" in page
    assert html.escape(PENDING_REBOOT_ADVICE.format(kb=report["kb"])) in page
