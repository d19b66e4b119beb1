"""The WinRM client's import path (docs/architecture.md, "The WinRM client's layers"): a host
on Basic auth needs no auth stack, so importing the client and polling such a host loads
neither pywinrm nor the NTLM/Kerberos/CredSSP libraries it carries; an NTLM host still
logs on and seals through pywinrm's code, imported when its session is first built."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from scripted_host import ScriptedRunner, good_answer

from hvconsole.remote.collector import Collector

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "fixtures" / "contracts" / "example-trace.jsonl"
# pywinrm and every auth stack it imports as it loads.
AUTH_STACKS = ("winrm", "spnego", "requests_ntlm", "gssapi", "krb5", "requests_credssp", "cryptography")


def host_doc() -> dict:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8").splitlines()[0])
    for key in ("schema", "host", "polled_at", "reachable", "error"):
        doc.pop(key)
    return doc


def _loaded_after(code: str) -> list[str]:
    """The auth stacks loaded in a fresh interpreter after running ``code``."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import sys
        print(sorted({{m.split(".")[0] for m in sys.modules}} & set({AUTH_STACKS!r})))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=HERE, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_importing_the_client_loads_no_auth_stack() -> None:
    assert _loaded_after("""
        import hvconsole.remote.collector, hvconsole.remote.session, hvconsole.remote.collect_loop
        import hvconsole.remote.transport, hvconsole.remote.errors, hvconsole.remote.probe
    """) == []


# A simulated host and its collector in a fresh interpreter: ``poll(auth, n)`` polls a new
# host n times and returns whether every poll answered.
_SIM_HOST = f"""
    import json, secrets
    from scripted_host import ScriptedRunner, good_answer
    from hvconsole.remote.collector import Collector
    from hvconsole.remote.target import Target
    from hvconsole.sim.wsman.endpoint import WsmanEndpoint
    doc = json.loads({json.dumps(json.dumps(host_doc()))})

    def poll(auth, n=2):
        password = secrets.token_urlsafe(16)
        endpoint = WsmanEndpoint(ScriptedRunner(lambda params: good_answer(doc)), username="hvc-admin",
                                 password=password, auth=auth, name="HV-SIM")
        endpoint.start()
        target = Target(name="HV-SIM", url=endpoint.url, username="hvc-admin", password=password,
                        transport="ntlm" if auth == "ntlm" else "plaintext")
        collector = Collector(target, timeout_s=20)
        try:
            return all(collector.poll().reachable for _ in range(n))
        finally:
            collector.close()
            endpoint.stop()
"""


def test_polling_a_basic_auth_host_loads_no_auth_stack() -> None:
    assert _loaded_after(_SIM_HOST + """
    assert poll("basic")
    """) == []


def test_ntlm_hosts_polled_at_once_after_a_basic_one_import_pywinrm_once_and_answer() -> None:
    # Several poll workers build their first NTLM sessions at the same moment: pywinrm is
    # imported then, in turns (a half-initialised module would fail a logon).
    loaded = _loaded_after(_SIM_HOST + """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    assert poll("basic") and "winrm" not in sys.modules
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lambda _: poll("ntlm", 3), range(4)))
    """)
    assert {"winrm", "requests_ntlm", "spnego"} <= set(loaded)


def test_an_ntlm_host_still_logs_on_and_seals(scripted_endpoint) -> None:
    endpoint, target = scripted_endpoint(ScriptedRunner(lambda params: good_answer(host_doc())), auth="ntlm")
    collector = Collector(target, timeout_s=20)
    try:
        for _ in range(3):
            snap = collector.poll()
            assert snap.reachable, snap.error
        transport = collector.session._protocol.transport
        assert transport.encryption is not None and transport._lane.sealing is not None
        assert endpoint.stats.get("encrypted_requests") >= 9
        assert "winrm.transport" in sys.modules
    finally:
        collector.close()


def test_a_wrong_ntlm_password_is_still_an_auth_error(scripted_endpoint) -> None:
    _, target = scripted_endpoint(ScriptedRunner(lambda params: good_answer(host_doc())), auth="ntlm")
    collector = Collector(dataclasses.replace(target, password=target.password + "x"), timeout_s=20)
    try:
        snap = collector.poll()
        assert not snap.reachable and snap.error is not None and snap.error.kind == "auth"
    finally:
        collector.close()
