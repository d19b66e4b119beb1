"""``hvconsole collect`` and ``hvconsole record`` as an admin runs them: subprocesses that
start the demo site on loopback and poll it through the real client."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from hvconsole.core.trace import read_trace

RUN_TIMEOUT_S = 120   # generous: the subprocess starts the whole demo site


def hvconsole(*args: str, home=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if home is not None:
        env["HVCONSOLE_HOME"] = str(home)
        # No OS keyring in these runs: the commands must say so plainly, never hang on one.
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, env=env)


def test_collect_json_prints_one_valid_snapshot(snapshot_validator):
    done = hvconsole("collect", "--demo", "HV01", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1   # one line: appending it to a trace keeps a trace
    doc = json.loads(done.stdout)
    snapshot_validator.validate(doc)
    assert (doc["host"], doc["reachable"], doc["error"]) == ("HV01", True, None)
    assert doc["vms"]


def test_collect_summary_is_short_and_readable():
    done = hvconsole("collect", "--demo", "hv02")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("HV02  reachable at ")
    assert any(line.strip().startswith("VMs ") for line in lines)
    assert len(lines) <= 10


def test_collect_unknown_demo_host_lists_the_demo_hosts():
    done = hvconsole("collect", "--demo", "NOPE")
    assert done.returncode == 2
    assert "no demo host 'NOPE'" in done.stderr
    assert "HV01, HV02, HV03, HV04" in done.stderr
    assert done.stdout == ""


def test_without_demo_an_empty_inventory_is_explained(tmp_path):
    cases = {("collect",): "name a host of the inventory",
             ("collect", "HV01"): "no host 'HV01' in the inventory",
             ("record", "-o", str(tmp_path / "t.jsonl")): "no hosts configured"}
    for args, says in cases.items():
        done = hvconsole(*args, home=tmp_path)
        assert done.returncode == 2, done.stderr
        assert says in done.stderr
    assert not (tmp_path / "t.jsonl").exists()


def test_record_demo_writes_a_trace_that_replays(tmp_path, snapshot_validator):
    trace = tmp_path / "trace.jsonl"
    done = hvconsole("record", "--demo", "--seconds", "3", "--interval", "0.5", "-o", str(trace))
    assert done.returncode == 0, done.stderr
    data = trace.read_bytes()
    snaps = list(read_trace(io.BytesIO(data), strict=True))
    assert {s.host for s in snaps} == {"HV01", "HV02", "HV03", "HV04"}
    assert all(sum(s.host == h for s in snaps) >= 2 for h in ("HV01", "HV02", "HV03", "HV04"))
    assert [s.polled_at for s in snaps] == sorted(s.polled_at for s in snaps)
    for line in data.decode("utf-8").splitlines():
        snapshot_validator.validate(json.loads(line))
    assert f"recorded {len(snaps)} polls of 4 hosts to {trace}" in done.stderr


def test_without_a_keyring_the_commands_say_so_once(tmp_path):
    from hvconsole.core.inventory import Host, InventoryStore
    from hvconsole.core.inventory.book import HostBook
    book = HostBook(InventoryStore(tmp_path / "config" / "hosts.json"), None)
    for name in ("HV01", "HV02"):
        book.add(Host(name=name, address=f"{name.lower()}.corp.example", username="CORP\\admin"), None)
    for args in (("collect", "HV01"), ("record", "-o", str(tmp_path / "t.jsonl"))):
        done = hvconsole(*args, home=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("no password can be read: No OS keyring is available") == 1, done.stderr
        # A command line cannot keep a session password: the fallback must not engage.
        assert "passwords kept for this session only" not in done.stderr
