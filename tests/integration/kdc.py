"""A real MIT Kerberos KDC on loopback for the Kerberos tests: a throw-away realm in a temp
folder, a service principal ``HTTP/<host>`` with its keytab (what a domain-joined Windows
host has in its machine account) and a user principal with a password.

Nothing system-wide is touched: MIT reads its configuration only from the files the
environment names (``KRB5_CONFIG``, ``KRB5_KDC_PROFILE``, ``KRB5CCNAME``, ``KRB5_KTNAME``),
so every process the test starts gets :meth:`Kdc.client_env` and talks to this realm alone.
The KDC listens on 127.0.0.1 only (``kdc_listen``/``kdc_tcp_listen``; the older
``kdc_ports`` would bind every address) and is stopped by its own pid.

Needs the Debian packages ``krb5-kdc``, ``krb5-admin-server`` (kadmin.local), ``krb5-user``
(kinit) and the Python modules pywinrm's and pyspnego's Kerberos extras bring (``kerberos``,
``gssapi``, ``krb5``); :func:`missing` says what is absent so a test can skip with that reason.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REALM = "HVTEST.LOCAL"
DOMAIN = "hvtest.local"
SERVICE_HOST = f"hv01.{DOMAIN}"
USER = "admin"
# A DNS domain that krb5.conf maps to a realm nobody serves: what a host in another forest
# (or a typo in the domain) looks like to this PC.
NO_KDC_DOMAIN = "elsewhere.test"
NO_KDC_REALM = "ELSEWHERE.TEST"
START_TIMEOUT_S = 20.0

_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
_TOOLS = {"krb5kdc": "krb5-kdc", "kdb5_util": "krb5-kdc", "kadmin.local": "krb5-admin-server",
          "kinit": "krb5-user", "kdestroy": "krb5-user"}
_MODULES = {"kerberos": "pywinrm[kerberos]", "gssapi": "gssapi", "krb5": "krb5"}


def tool(name: str) -> str | None:
    """The path of a Kerberos tool (the KDC's live in /usr/sbin, often not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def missing() -> str | None:
    """None when the KDC, the client tools and the Python Kerberos modules are installed,
    else what to install."""
    absent = sorted({pkg for name, pkg in _TOOLS.items() if tool(name) is None})
    if absent:
        return f"MIT Kerberos not installed (apt-get install {' '.join(absent)})"
    mods = [pip for mod, pip in _MODULES.items() if importlib.util.find_spec(mod) is None]
    if mods:
        return f"Python Kerberos support not installed (pip install {' '.join(mods)}, needs libkrb5-dev)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Kdc:
    root: Path
    port: int
    keytab: Path
    user_password: str = field(repr=False)
    process: subprocess.Popen | None = None
    realm: str = REALM
    service_host: str = SERVICE_HOST

    @property
    def principal(self) -> str:
        return f"{USER}@{self.realm}"

    @property
    def krb5_conf(self) -> Path:
        return self.root / "krb5.conf"

    def client_env(self, ccache: Path, **extra: str) -> dict[str, str]:
        """The environment of a client process of this realm with ticket cache ``ccache``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env.update(KRB5_CONFIG=str(self.krb5_conf), KRB5CCNAME=f"FILE:{ccache}", KRB5RCACHETYPE="none")
        env.update(extra)
        return env

    def kinit(self, ccache: Path, *, principal: str | None = None, password: str | None = None,
              lifetime: str | None = None) -> subprocess.CompletedProcess:
        """``kinit`` as an admin would run it (password on stdin); returns the finished
        process (rc 1 and kinit's message on failure)."""
        argv = [tool("kinit") or "kinit"]
        if lifetime:
            argv += ["-l", lifetime]
        argv.append(principal or self.principal)
        return subprocess.run(argv, input=(self.user_password if password is None else password) + "\n",
                              env=self.client_env(ccache), capture_output=True, text=True, timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _krb5_conf(port: int) -> str:
    # kdc_timesync = 0 (an integer: "false" is ignored): MIT otherwise corrects a skewed
    # client clock silently at login, and the clock-skew case could never be seen.
    return f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    kdc_timesync = 0
    ticket_lifetime = 10h

[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}

[domain_realm]
    .{DOMAIN} = {REALM}
    {DOMAIN} = {REALM}
    .{NO_KDC_DOMAIN} = {NO_KDC_REALM}
"""


def _kdc_conf(root: Path, port: int) -> str:
    return f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}

[realms]
    {REALM} = {{
        database_name = {root}/principal
        key_stash_file = {root}/stash
        acl_file = {root}/kadm5.acl
        max_life = 10h
        max_renewable_life = 1d
    }}
"""


def _kadmin(env: dict[str, str], *commands: str) -> None:
    done = subprocess.run([tool("kadmin.local") or "kadmin.local", "-r", REALM],
                          input="\n".join(commands) + "\n", env=env, capture_output=True, text=True,
                          timeout=60)
    # kadmin.local exits 0 even when a command failed: its stderr is the only sign.
    problems = [line for line in done.stderr.splitlines()
                if line.strip() and "No policy specified" not in line and "defaulting to no policy" not in line]
    if done.returncode != 0 or problems:
        raise RuntimeError(f"kadmin.local failed: {' / '.join(problems) or done.returncode}")


def start(root: Path) -> Kdc:
    """Create the realm under ``root`` and start its KDC; the caller must ``stop()`` it."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "krb5.conf").write_text(_krb5_conf(port), encoding="utf-8")
    (root / "kdc.conf").write_text(_kdc_conf(root, port), encoding="utf-8")
    (root / "kadm5.acl").write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
    env.update(KRB5_CONFIG=str(root / "krb5.conf"), KRB5_KDC_PROFILE=str(root / "kdc.conf"),
               KRB5RCACHETYPE="none")
    master = secrets.token_urlsafe(18)
    created = subprocess.run([tool("kdb5_util") or "kdb5_util", "create", "-s", "-r", REALM, "-P", master],
                             env=env, capture_output=True, text=True, timeout=60)
    if created.returncode != 0:
        raise RuntimeError(f"kdb5_util create failed: {created.stderr.strip()}")
    user_password = secrets.token_urlsafe(12)
    keytab = root / "http.keytab"
    _kadmin(env, f"addprinc -pw {user_password} {USER}@{REALM}",
            f"addprinc -randkey HTTP/{SERVICE_HOST}@{REALM}",
            f"ktadd -k {keytab} HTTP/{SERVICE_HOST}@{REALM}")
    kdc = Kdc(root=root, port=port, keytab=keytab, user_password=user_password)
    with (root / "krb5kdc.log").open("wb") as log:     # the child keeps its own descriptor
        kdc.process = subprocess.Popen([tool("krb5kdc") or "krb5kdc", "-n", "-r", REALM], env=env,
                                       stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if kdc.process.poll() is not None:
            raise RuntimeError(f"krb5kdc exited ({kdc.process.returncode}): "
                               f"{(root / 'krb5kdc.log').read_text(errors='replace').strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return kdc
        except OSError:
            if time.monotonic() > deadline:
                kdc.stop()
                raise RuntimeError(f"krb5kdc did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)


# The product's command line in a child process, with only one thing changed: names under
# the test realm's DNS domains resolve to 127.0.0.1 (what an /etc/hosts entry would do,
# without editing the machine's). Everything else (the URL's host name, the SPN
# HTTP/<name> the ticket is asked for, the connection test's DNS step) is as on a real
# network.
CLI_LAUNCHER = f"""
import runpy, socket, sys
_resolve = socket.getaddrinfo
def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.lower().rstrip(".").endswith(({DOMAIN!r}, {NO_KDC_DOMAIN!r})):
        host = "127.0.0.1"
    return _resolve(host, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
sys.argv = ["hvconsole", *sys.argv[1:]]
runpy.run_module("hvconsole", run_name="__main__", alter_sys=True)
"""
