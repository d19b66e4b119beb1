"""A real Samba server on loopback for tests: a private smb.conf, every state directory in a
temp folder, a share named ``C$`` like a Windows admin share, one user with a password made
up at run time. Needs ``smbd``/``smbpasswd`` (Debian package samba) and root (to add the
Unix user); callers skip otherwise."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

USER = "hvcstage"


def available() -> str | None:
    """None when a Samba server can be started here, else the reason it cannot."""
    if not shutil.which("smbd") or not shutil.which("smbpasswd"):
        return "Samba (smbd, smbpasswd) is not installed"
    if os.geteuid() != 0:
        return "starting Samba with its own user needs root"
    return None


@dataclass
class SambaServer:
    root: Path
    port: int
    share_dir: Path
    user: str
    password: str = field(repr=False)
    proc: subprocess.Popen | None = None

    def pause(self) -> None:
        """SIGSTOP smbd and every process it forked (one per client connection): the server
        stops answering with its connections open, as a hung host or a dead link does."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def processes(self) -> set[int]:
        """The pids of smbd and its children (they share smbd's process group)."""
        assert self.proc is not None
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue   # gone meanwhile
            if int(fields[2]) == self.proc.pid:   # pgrp
                pids.add(int(stat.parent.name))
        return pids

    def wait_gone(self, pids: set[int], timeout_s: float = 30.0) -> bool:
        """Wait until none of ``pids`` runs any more (a connection's smbd child exits once it
        has seen its client go); True if they are gone."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if not pids & self.processes():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.resume()   # a stopped process would not act on SIGTERM
            except ProcessLookupError:
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def serve_for_tests(tmp_path_factory) -> Iterator[SambaServer]:
    """Body of a pytest fixture: a running server for the fixture's scope, or a skip with
    the reason it cannot run here."""
    import pytest
    reason = available()
    if reason:
        pytest.skip(reason)
    server = start(tmp_path_factory.mktemp("samba"))
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(root: Path, attempts: int = 3) -> SambaServer:
    """Start smbd on a free loopback port. The port is probed and then handed to smbd, so
    another process can take it in between: then smbd exits and we try another port."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return _start_once(root)
        except RuntimeError as exc:
            last = exc
    raise RuntimeError(f"smbd did not start in {attempts} attempts: {last}")


def _start_once(root: Path) -> SambaServer:
    for d in ("share", "state", "cache", "lock", "private", "pid", "log", "ncalrpc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    share = root / "share"
    share.chmod(0o777)
    port = _free_port()
    conf = root / "smb.conf"
    conf.write_text(f"""[global]
    server role = standalone server
    smb ports = {port}
    interfaces = lo
    bind interfaces only = yes
    disable netbios = yes
    state directory = {root / 'state'}
    cache directory = {root / 'cache'}
    lock directory = {root / 'lock'}
    private dir = {root / 'private'}
    pid directory = {root / 'pid'}
    ncalrpc dir = {root / 'ncalrpc'}
    log file = {root / 'log'}/log.%m
    log level = 1
    passdb backend = tdbsam:{root / 'private'}/passdb.tdb
    server min protocol = SMB2
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes

[C$]
    path = {share}
    read only = no
    force user = root
    guest ok = no
""")
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", USER], check=True, capture_output=True)
    password = secrets.token_urlsafe(12)
    subprocess.run(["smbpasswd", "-c", str(conf), "-s", "-a", USER], input=f"{password}\n{password}\n",
                   text=True, check=True, capture_output=True)
    proc = subprocess.Popen(["smbd", "-F", "--no-process-group", "-s", str(conf), "--debug-stdout"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            # smbd signals its whole process group on shutdown: give it its own.
                            start_new_session=True)
    server = SambaServer(root=root, port=port, share_dir=share, user=USER, password=password, proc=proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"smbd exited with {proc.returncode}; see {root / 'log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("smbd did not start listening within 30 s")
