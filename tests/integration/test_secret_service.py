"""End to end against a real Secret Service (gnome-keyring on a private D-Bus session):
``hvconsole hosts add --password-stdin`` in one process stores the password; another
process reads it back from the keyring and polls the simulated site through the real
WinRM client. Run twice: the demo site (``start_demo``, Basic over plain HTTP on
loopback) and a simulated host speaking NTLM with WinRM message encryption."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from hvconsole.cli import COMMAND_MODULES
from hvconsole.sim.serve import start_demo
from tests.integration import secret_service
from tests.integration.simhost import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
REPO = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT_S = 90


def need_daemons() -> None:
    reason = secret_service.missing()
    if reason:
        pytest.skip(f"no Secret Service to test against: {reason}")


@pytest.fixture(scope="module")
def keyring_session(tmp_path_factory) -> Iterator[secret_service.SecretService]:
    need_daemons()
    service = secret_service.start(tmp_path_factory.mktemp("secret-service"))
    try:
        yield service
    finally:
        service.stop()


def hosts_command() -> list[str]:
    # `hvconsole hosts` once the command group is registered in hvconsole/cli/__init__.py.
    if "hosts" in COMMAND_MODULES:
        return [sys.executable, "-m", "hvconsole", "hosts"]
    return [sys.executable, "-m", "hvconsole.cli.hosts"]


def run(env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), input=stdin, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=PROCESS_TIMEOUT_S)


@contextmanager
def site(kind: str) -> Iterator[tuple[str, int, str, str, str]]:
    """(host name, port, user, password, transport) of a running simulated host."""
    if kind == "demo-plaintext":
        served = start_demo(seed=1)
        try:
            first = served.hosts[0]
            yield first.name, urlsplit(first.url).port, first.user, first.password, "plaintext"
        finally:
            served.stop()
    else:
        with sim_endpoint(auth="ntlm", name="HV-NTLM") as sim:
            yield "HV-NTLM", sim.port, sim.user, sim.password, "ntlm"


def files_contain(root: Path, secret: str) -> list[Path]:
    needle = secret.encode("utf-8")
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("kind", ["demo-plaintext", "ntlm-encrypted"])
def test_password_stored_by_one_process_is_used_by_another(keyring_session, kind: str) -> None:
    env = keyring_session.env
    with site(kind) as (name, port, user, password, transport):
        added = run(env, *hosts_command(), "add", name, "--address", "127.0.0.1", "--port", str(port),
                    "--user", user, "--transport", transport, "--password-stdin", stdin=password + "\n")
        assert added.returncode == 0, added.stderr
        assert "password stored in the OS keyring" in added.stdout

        polled = run(env, sys.executable, "-m", "tests.integration.collect_with_stored_password", name)
        assert polled.returncode == 0, polled.stderr + polled.stdout
        answer = json.loads(polled.stdout)
        assert answer["backend"] == "keyring.backends.SecretService.Keyring"
        snapshot = answer["snapshot"]
        assert snapshot["host"] == name and snapshot["reachable"] is True, snapshot.get("error")
        assert snapshot["os"]["build"] > 0 and snapshot["vm_query"]["ok"] is True
        if kind == "demo-plaintext":
            assert len(snapshot["vms"]) > 0

        # The product's own command, as an admin would run it: inventory + keyring + WinRM.
        collected = run(env, sys.executable, "-m", "hvconsole", "collect", name, "--json")
        assert collected.returncode == 0, collected.stderr
        doc = json.loads(collected.stdout)
        assert doc["host"] == name and doc["reachable"] is True
        assert password not in collected.stdout + collected.stderr

        tested = run(env, *hosts_command(), "test", name)
        assert tested.returncode == 0 and tested.stdout.startswith("OK: connected to"), tested.stdout

        # `hosts list` never touches the keyring unless asked to (`--passwords`).
        listed = run(env, *hosts_command(), "list", "--json", "--passwords")
        row = next(r for r in json.loads(listed.stdout) if r["name"] == name)
        assert row["password_stored"] is True

        for proc in (added, polled, tested, listed):
            assert password not in proc.stdout + proc.stderr
    # The keyring's own files are encrypted: the password is in no file of this session.
    assert files_contain(keyring_session.root, password) == []


def test_remove_deletes_the_keyring_entry(keyring_session) -> None:
    env = keyring_session.env
    with sim_endpoint(name="HV-GONE") as sim:
        added = run(env, *hosts_command(), "add", "HV-GONE", "--address", "127.0.0.1", "--port", str(sim.port),
                    "--user", sim.user, "--transport", "plaintext", "--password-stdin", stdin=sim.password + "\n")
        assert added.returncode == 0, added.stderr
    inventory = json.loads((Path(env["HVCONSOLE_HOME"]) / "config" / "hosts.json").read_text(encoding="utf-8"))
    host_id = next(h["id"] for h in inventory["hosts"] if h["name"] == "HV-GONE")
    lookup = ["-c", "import sys, keyring; print(keyring.get_password('hvconsole', sys.argv[1]) is not None)",
              host_id]
    assert run(env, sys.executable, *lookup).stdout.strip() == "True"
    removed = run(env, *hosts_command(), "remove", "HV-GONE", "--yes")
    assert removed.returncode == 0 and "and its stored password" in removed.stdout, removed.stderr
    assert run(env, sys.executable, *lookup).stdout.strip() == "False"


@pytest.mark.parametrize("keyring, says", [
    ("none", "No OS keyring is available"),
    ("activatable", "The OS keyring is locked"),
])
def test_no_usable_secret_service_is_refused_plainly(tmp_path: Path, keyring: str, says: str) -> None:
    need_daemons()
    bare = secret_service.start(tmp_path, keyring=keyring)
    try:
        result = run(bare.env, *hosts_command(), "add", "HV01", "--address", "hv01.corp.example",
                     "--user", "CORP\\hvadmin", "--password-stdin", stdin=secrets.token_urlsafe(12) + "\n")
    finally:
        bare.stop()
    assert result.returncode == 3, result.stderr
    assert says in result.stderr and "The host was not added" in result.stderr
    assert not (tmp_path / "hvconsole" / "config" / "hosts.json").exists()
