"""pywinrm's NTLM/Kerberos libraries load on first use (hvconsole.remote.deferred_imports)."""

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_client_stack_leaves_the_auth_libraries_unloaded():
    out = _run("""
        import sys
        import hvconsole.remote.collector
        print(type(sys.modules["spnego"]).__name__, type(sys.modules["cryptography.x509"]).__name__,
              "spnego._context" in sys.modules)
    """)
    assert out == "_StandIn _StandIn False"


def test_threads_that_look_up_at_once_all_get_the_one_real_module():
    out = _run("""
        import sys, threading
        import hvconsole.remote.collector
        import spnego
        from cryptography import x509
        seen, start = [], threading.Barrier(8)
        def look():
            start.wait()
            seen.append((spnego.client, spnego.exceptions.SpnegoError, x509.load_der_x509_certificate))
        threads = [threading.Thread(target=look) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        real = sys.modules["spnego"]
        print(len(set(seen)), type(real).__name__, seen[0][1] is real.exceptions.SpnegoError)
    """)
    assert out == "1 module True"


def test_submodules_and_find_spec_work_through_a_stand_in():
    out = _run("""
        import importlib.util
        import hvconsole.remote.collector
        print(importlib.util.find_spec("spnego") is not None)
        from spnego.channel_bindings import GssChannelBindings
        from cryptography.x509.oid import NameOID
        import spnego, sys
        print(type(sys.modules["spnego"]).__name__, spnego.channel_bindings.GssChannelBindings is GssChannelBindings)
    """)
    assert out.splitlines() == ["True", "module True"]
