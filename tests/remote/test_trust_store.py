"""HTTPS trusts what the machine trusts (issue 11, "Certificates"): a host certificate from a
CA that only the operating system's store knows (an AD CS CA on a domain machine) is
accepted, with no CA bundle configured; a CA the store does not know is refused with the
classified certificate error and a hint.

On Linux the OS store is OpenSSL's default paths, which ``SSL_CERT_FILE``/``SSL_CERT_DIR``
redirect, so each case runs the real client in a child process whose OS store is a CA made
by the test, against the simulated WS-Man endpoint over HTTPS (NTLM inside TLS).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hvconsole.remote import trust
from hvconsole.sim.wsman.tls import issue_certificate
from tests.integration.simhost import sim_endpoint

REPO = Path(__file__).resolve().parents[2]

# The child: one poll (Collector, the monitoring path) and one connection test (probe, the
# `hosts test` path), both with certificate validation on and no CA bundle.
CHILD = r"""
import json, sys
from hvconsole.core.inventory import Host, Transport
from hvconsole.remote.collector import Collector
from hvconsole.remote.probe import probe_host
from hvconsole.remote.target import Target

cfg = json.loads(sys.stdin.read())
target = Target(name="HV01", url=f"https://127.0.0.1:{cfg['port']}/wsman", username=cfg["user"],
                password=cfg["password"], transport="ntlm")
collector = Collector(target, timeout_s=30)
snap = collector.poll()
collector.close()
host = Host(name="HV01", address="127.0.0.1", username=cfg["user"], transport=Transport.HTTPS,
            port=cfg["port"])
probe = probe_host(host, cfg["password"], timeout_s=30)
print(json.dumps({
    "reachable": snap.reachable,
    "error": None if snap.error is None else {"kind": snap.error.kind, "message": snap.error.message},
    "vms": len(snap.vms),
    "probe": probe.to_dict(),
}))
"""


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory):
    """The CA that signed the endpoint's certificate (the company's own CA)."""
    return issue_certificate(tmp_path_factory.mktemp("site-ca"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """A CA that signed nothing the endpoint uses."""
    return issue_certificate(tmp_path_factory.mktemp("other-ca"))


def run_client(os_store_ca: str, port: int, user: str, password: str, tmp_path: Path) -> dict:
    """The client in a child process whose OS trust store holds only ``os_store_ca``."""
    empty_dir = tmp_path / "no-hashed-certs"
    empty_dir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(SSL_CERT_FILE=os_store_ca, SSL_CERT_DIR=str(empty_dir), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(
        {"port": port, "user": user, "password": password}), capture_output=True, text=True,
        cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert password not in done.stdout and password not in done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_ca_known_only_to_the_os_store_is_trusted(site_ca, tmp_path):
    with sim_endpoint(auth="ntlm", tls=site_ca) as sim:
        answer = run_client(site_ca.ca_file, sim.port, sim.user, sim.password, tmp_path)
    assert answer["error"] is None and answer["reachable"] and answer["vms"] >= 0


def test_a_ca_unknown_to_the_os_store_is_refused_with_the_certificate_error_and_a_hint(
        site_ca, other_ca, tmp_path):
    with sim_endpoint(auth="ntlm", tls=site_ca) as sim:
        answer = run_client(other_ca.ca_file, sim.port, sim.user, sim.password, tmp_path)
    assert not answer["reachable"]
    assert answer["error"]["kind"] == "tls"
    assert answer["error"]["message"].startswith("the TLS certificate of HV01 was not accepted")
    probe = answer["probe"]
    assert probe["outcome"] == "tls" and probe["step"] == "tls"
    assert "certificate" in probe["message"] and "CA" in probe["hint"]


def test_the_connection_test_trusts_the_os_store_too(site_ca, tmp_path):
    with sim_endpoint(auth="ntlm", tls=site_ca) as sim:
        answer = run_client(site_ca.ca_file, sim.port, sim.user, sim.password, tmp_path)
    assert answer["probe"]["outcome"] == "ok", answer["probe"]


def test_a_per_host_ca_bundle_is_that_bundle_alone():
    """The inventory's CA bundle pins the host to that CA; without one the OS store is used;
    with checking off nothing is verified."""
    assert trust.uses_os_store("validate", None) and trust.uses_os_store("validate", "")
    assert not trust.uses_os_store("validate", "/etc/pki/site-ca.pem")
    assert not trust.uses_os_store("ignore", None)
    assert type(trust.os_trust_context()).__module__.startswith("truststore")
    off = trust.client_context(verify=False, ca_bundle=None)
    assert not off.check_hostname and off.verify_mode.name == "CERT_NONE"


def test_a_host_with_its_own_ca_bundle_does_not_trust_the_os_store(site_ca, other_ca, tmp_path):
    """A host pinned to another CA is refused even though the OS store knows the right one."""
    child = CHILD.replace('transport="ntlm")', 'transport="ntlm", ca_trust_path=cfg["bundle"])')
    with sim_endpoint(auth="ntlm", tls=site_ca) as sim:
        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        env.update(SSL_CERT_FILE=site_ca.ca_file, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-c", child], input=json.dumps(
            {"port": sim.port, "user": sim.user, "password": sim.password, "bundle": other_ca.ca_file}),
            capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["error"]["kind"] == "tls"
