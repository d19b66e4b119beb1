"""``hvconsole doctor HOST --bundle`` for a host of the inventory whose password is in the
operating system's own keyring, each command a process of its own, as an admin runs them.

Runs where the OS keyring is a real one that needs no session set up: Windows (Credential
Manager; the CI workflow's tests job). Elsewhere it is skipped: the Linux Secret Service
path is proven by tests/integration/test_secret_service.py."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import zipfile

import pytest

from tests.integration.simhost import sim_endpoint

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(sys.platform != "win32", reason="needs Windows Credential Manager")]


def run(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "hvconsole", *args], input=stdin, capture_output=True,
                          text=True, timeout=180, env=env)


def test_doctor_reads_the_password_from_credential_manager(tmp_path):
    env = dict(os.environ, HVCONSOLE_HOME=str(tmp_path))
    name = f"HV-CI-{uuid.uuid4().hex[:8]}"
    with sim_endpoint() as sim:
        added = run(env, "hosts", "add", name, "--address", "127.0.0.1", "--port", str(sim.port),
                    "--user", sim.user, "--transport", "plaintext", "--password-stdin", stdin=sim.password + "\n")
        assert added.returncode == 0, added.stderr
        try:
            bundle = tmp_path / "b.zip"
            done = run(env, "doctor", name, "--bundle", str(bundle), "--redact-names")
            assert done.returncode == 0, done.stdout + done.stderr
            with zipfile.ZipFile(bundle) as zf:
                text = "".join(zf.read(n).decode("utf-8") for n in zf.namelist())
            assert sim.password not in text and name not in text
        finally:
            run(env, "hosts", "remove", name, "--yes")
