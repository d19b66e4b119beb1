"""The diagnostic bundle (``hvconsole doctor HOST --bundle out.zip``): a zip with a README
saying what each file is, no password anywhere in it, with ``--redact-names`` no real host,
user or VM name either (the same placeholder for the same name everywhere), and a trace
that replays through ``hvconsole detect``.

The end-to-end tests go the way an admin does: a host in the inventory, its password in the
(test) keyring, ``hvconsole doctor HV01 --bundle`` in this process against a simulated
host with VMs behind a real WS-Management endpoint on loopback."""

from __future__ import annotations

import io
import json
import re
import secrets
import uuid
import zipfile
from pathlib import Path

import pytest

from hvconsole import paths
from hvconsole.core.trace import read_trace
from hvconsole.doctor.bundle import BundleInput, Redactor, read_bundle, write_bundle
from hvconsole.sim.model.vm import SimVM
from tests.integration import keyrings
from tests.integration.simhost import sim_endpoint

pytestmark = pytest.mark.timeout(180)

VM_NAMES = ("SQL-PROD-01", "Exchange Mailbox 2", "jdoe's build box")
USER = "hvadmin"
EXPECTED_FILES = {"README.txt", "doctor.json", "doctor.txt", "trace.jsonl", "console.log", "versions.json",
                  "inventory.json", "answers/doctor.json", "answers/collect.json", "answers/patch_preflight.json",
                  "answers/patch_stage_check.json", "answers/audit.json"}


@pytest.fixture
def site_in_inventory(tmp_path, monkeypatch):
    """HV-FINANCE-07 in the inventory (plain HTTP to this PC), its password in a memory
    keyring, served by a simulated host running three VMs."""
    from hvconsole.core.inventory import Host, InventoryStore
    from hvconsole.core.inventory.book import HostBook
    from hvconsole.credentials import CredentialStore, Secret
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    keyrings.install(monkeypatch)
    with sim_endpoint(user=USER, name="HV-FINANCE-07") as sim:
        for i, name in enumerate(VM_NAMES):
            sim.sim.add_vm(SimVM(name, str(uuid.UUID(int=i + 1))))
        book = HostBook(InventoryStore(paths.inventory_path()), CredentialStore())
        book.add(Host(name="HV-FINANCE-07", address="127.0.0.1", port=sim.port, username=USER,
                      transport="plaintext"), Secret(sim.password))
        yield sim, tmp_path


def run_cli(*argv: str) -> int:
    from hvconsole.cli import main
    return main(list(argv))


def every_text(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as zf:
        assert zf.testzip() is None
        return "\n".join(zf.read(n).decode("utf-8") for n in zf.namelist()) + "\n".join(zf.namelist())


def replay(trace_text: str, tmp_path: Path, capsys) -> tuple[int, str]:
    trace = tmp_path / "replay.jsonl"
    trace.write_text(trace_text, encoding="utf-8")
    capsys.readouterr()
    code = run_cli("detect", str(trace))
    return code, capsys.readouterr().out


def test_bundle_has_a_readme_no_password_and_a_trace_that_replays(site_in_inventory, capsys):
    sim, home = site_in_inventory
    out = home / "hv.zip"
    code = run_cli("doctor", "HV-FINANCE-07", "--bundle", str(out))
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert "diagnostic bundle written to" in printed.err
    files = read_bundle(out)
    assert EXPECTED_FILES <= set(files), sorted(files)
    readme = files["README.txt"]
    for name in ("doctor.json", "answers/*.json", "trace.jsonl", "console.log", "versions.json", "inventory.json"):
        assert name in readme, f"the README does not say what {name} is"
    assert sim.password not in every_text(out)
    assert json.loads(files["doctor.json"])["ok"] is True
    versions = json.loads(files["versions.json"])
    assert versions["python"] and "pywinrm" in versions["packages"] and "PySide6" in versions["packages"]
    assert json.loads(files["inventory.json"])["hosts"][0]["name"] == "HV-FINANCE-07"
    snaps = list(read_trace(io.BytesIO(files["trace.jsonl"].encode()), strict=True))
    assert [s.host for s in snaps] == ["HV-FINANCE-07"] and {vm.name for vm in snaps[0].vms} == set(VM_NAMES)
    code, report = replay(files["trace.jsonl"], home, capsys)
    assert code == 0, report


def test_redacted_bundle_holds_no_real_name_and_keeps_vms_apart(site_in_inventory, capsys):
    sim, home = site_in_inventory
    out = home / "redacted.zip"
    code = run_cli("doctor", "HV-FINANCE-07", "--bundle", str(out), "--redact-names")
    assert code == 0, capsys.readouterr()
    text = every_text(out)
    lowered = text.lower()
    for real in ("HV-FINANCE-07", USER, *VM_NAMES, "127.0.0.1", sim.password):
        assert real.lower() not in lowered, f"{real!r} is still in the redacted bundle"
    files = read_bundle(out)
    assert "Names are redacted" in files["README.txt"]
    snaps = list(read_trace(io.BytesIO(files["trace.jsonl"].encode()), strict=True))
    vm_names = sorted(vm.name for vm in snaps[0].vms)
    assert len(set(vm_names)) == 3 and all(re.fullmatch(r"VM-\d+", n) for n in vm_names)
    # The same VM has the same placeholder in the preflight answer as in the trace.
    by_id = {vm.id: vm.name for vm in snaps[0].vms}
    preflight = json.loads(files["answers/patch_preflight.json"])
    assert {vm["id"]: vm["name"] for vm in preflight["vms"]} == by_id
    assert snaps[0].host == "HOST-1" and json.loads(files["inventory.json"])["hosts"][0]["name"] == "HOST-1"
    code, report = replay(files["trace.jsonl"], home, capsys)
    assert code == 0, report


def test_a_recorded_trace_adds_the_last_hour_of_that_host(site_in_inventory, capsys):
    from datetime import timedelta

    from hvconsole.core.parse import parse_snapshot
    from hvconsole.core.timeutil import format_time, utcnow
    sim, home = site_in_inventory
    example = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "example-trace.jsonl"
    base = json.loads(example.read_text(encoding="utf-8").splitlines()[0])
    base["host"] = "HV-FINANCE-07"
    first = utcnow() - timedelta(hours=2)
    lines = []
    for minutes in (0, 30, 61, 90, 120):     # the last two hours, up to now
        doc = dict(base, polled_at=format_time(first + timedelta(minutes=minutes)))
        lines.append(json.dumps(doc))
    lines.append(json.dumps(dict(base, host="HV-OTHER", polled_at=format_time(first))))
    trace = home / "recorded.jsonl"
    trace.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
    out = home / "with-trace.zip"
    code = run_cli("doctor", "HV-FINANCE-07", "--bundle", str(out), "--trace", str(trace))
    err = capsys.readouterr().err
    assert code == 0 and "1 unreadable lines" in err, err
    snaps = list(read_trace(io.BytesIO(read_bundle(out)["trace.jsonl"].encode()), strict=True))
    # The hour before the doctor's own poll: the recorded polls at 61, 90 and 120 minutes,
    # then the doctor's; nothing of HV-OTHER.
    assert [s.host for s in snaps] == ["HV-FINANCE-07"] * 4
    assert [s.polled_at for s in snaps[:3]] == [parse_snapshot(json.loads(lines[i])).polled_at for i in (2, 3, 4)]
    assert snaps[-1].vms and {vm.name for vm in snaps[-1].vms} == set(VM_NAMES)


def test_bundle_usage_errors(capsys, tmp_path):
    assert run_cli("doctor", "--demo", "HV01", "--redact-names") == 2
    assert "only apply with --bundle" in capsys.readouterr().err
    assert run_cli("doctor", "--demo", "HV01", "--bundle", str(tmp_path / "no" / "such" / "b.zip")) == 2
    assert "does not exist" in capsys.readouterr().err


# -- the redactor and the scrubbing, directly ----------------------------------------------

class _Report:
    """The part of a DoctorReport the bundle reads."""

    def __init__(self, raw: dict[str, str]):
        self.raw_answers, self.results, self.snapshot, self.probe = raw, [], None, None

    def to_dict(self):
        return {"host": "HV01", "ok": False, "checks": []}


def test_a_password_that_reached_a_log_line_or_an_answer_is_scrubbed(tmp_path):
    from hvconsole.core.inventory import Host
    password = secrets.token_urlsafe(12) + "!"      # made up at run time
    data = BundleInput(report=_Report({"collect": json.dumps({"echo": f"pw={password}"})}),
                       host=Host(name="HV01", address="hv01.corp.example", username="CORP\\jdoe"),
                       password=password, log_lines=[f"DEBUG something said {password}"])
    text = every_text(write_bundle(tmp_path / "b.zip", data))
    assert password not in text and "***" in text


def test_a_bundle_that_cannot_be_written_leaves_nothing_behind(tmp_path):
    from hvconsole.core.inventory import Host
    (tmp_path / "taken.zip").mkdir()          # a folder where the zip should go
    data = BundleInput(report=_Report({}), host=Host(name="HV01", address="hv01", username="u"))
    with pytest.raises(OSError):
        write_bundle(tmp_path / "taken.zip", data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.zip"]


def test_redactor_is_consistent_and_splits_account_names():
    r = Redactor(enabled=True)
    r.add("USER", "CORP\\jdoe")
    r.add("HOST", "hv01.corp.example")
    r.add("VM", "web-01")
    text = r.text("CORP\\jdoe on HV01.corp.example (hv01) runs web-01; jdoe@corp again: JDOE")
    assert "jdoe" not in text.lower() and "hv01" not in text.lower() and "web-01" not in text
    assert text.count("VM-1") == 1 and r.text("web-01") == "VM-1"
    # numbers and short words are never taken for names (times and values must survive)
    r.add("VM", "20")
    r.add("VM", "ok")
    assert r.text("2026-01-20T10:00:00Z ok") == "2026-01-20T10:00:00Z ok"
    # keys stay: documents still parse as their contracts say
    assert r.value({"web-01": "web-01"}) == {"web-01": "VM-1"}
