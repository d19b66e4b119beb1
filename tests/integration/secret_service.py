"""A real Secret Service (the Linux OS keyring) for the integration test: a private D-Bus
session bus and a freshly unlocked gnome-keyring, both with a throwaway HOME and XDG
folders, so that nothing touches the developer's own keyring. Every process the test
starts gets :attr:`SecretService.env` and therefore talks to this bus only.

Needs ``dbus-daemon`` (Debian package dbus) and ``gnome-keyring-daemon`` (gnome-keyring);
:func:`missing` says which is absent so the caller can skip with that reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

SECRETS_BUS_NAME = "org.freedesktop.secrets"
START_TIMEOUT_S = 20.0


def missing() -> str | None:
    """None when both daemons are installed, else what to install."""
    absent = [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(tool) is None]
    if absent:
        return f"{' and '.join(absent)} not installed (apt-get install dbus gnome-keyring)"
    return None


@dataclass
class SecretService:
    root: Path
    env: dict[str, str]
    bus_address: str
    pids: list[int] = field(default_factory=list)   # started by us, stopped by stop()
    unlock_password: str = field(default="", repr=False)

    def stop(self) -> None:
        """Stop the keyring daemon (also one the bus activated), then the bus: each by its
        own pid, nothing broader."""
        activated = owner_pid(self.bus_address, SECRETS_BUS_NAME)
        if activated is not None and activated not in self.pids:
            self.pids.insert(1, activated)
        for pid in reversed(self.pids):
            _terminate(pid)
        self.pids.clear()


# A session bus that cannot start services on demand: with it, "no Secret Service" means
# none, instead of D-Bus activating a gnome-keyring that has no unlocked collection.
_NO_ACTIVATION_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir={tmp}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start(root: Path, *, keyring: str = "unlocked") -> SecretService:
    """Start a private session bus and, per ``keyring``:

    - ``"unlocked"``: a gnome-keyring unlocked with a password made up here;
    - ``"activatable"``: nothing, but the bus starts gnome-keyring on first use, as a
      desktop-less login would, with no unlocked collection (the locked case);
    - ``"none"``: no Secret Service at all (the bus cannot activate one).
    """
    home = root / "home"
    runtime = root / "runtime"
    for folder in (home, runtime):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DBUS_", "GNOME_KEYRING", "PYTHON_KEYRING", "KEYRING_PROPERTY_"))}
    env.update({
        "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"), "HVCONSOLE_HOME": str(root / "hvconsole"),
    })
    bus_args = ["--session"]
    if keyring == "none":
        config = root / "session-no-activation.conf"
        config.write_text(_NO_ACTIVATION_CONFIG.format(tmp=runtime), encoding="utf-8")
        bus_args = [f"--config-file={config}"]
    # --fork: the daemon detaches and prints its address and pid, one per line.
    proc = subprocess.run(["dbus-daemon", *bus_args, "--fork", "--print-address=1", "--print-pid=1"],
                          env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=True)
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    address, bus_pid = lines[0], int(lines[1])
    service = SecretService(root, env, address, [bus_pid])
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    if keyring != "unlocked":
        return service
    try:
        service.unlock_password = secrets.token_urlsafe(16)
        unlock = subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"],
                                input=service.unlock_password, env=env, capture_output=True, text=True,
                                timeout=START_TIMEOUT_S, check=True)
        for line in unlock.stdout.splitlines():      # older versions print KEY=VALUE to export
            key, sep, value = line.strip().partition("=")
            if sep and key.isupper():
                env[key] = value
        service.pids.append(_wait_for_owner(address, SECRETS_BUS_NAME))
    except BaseException:
        service.stop()
        raise
    return service


def owner_pid(address: str, name: str) -> int | None:
    """The pid of the process owning ``name`` on the bus, or None (no owner, no bus)."""
    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    try:
        with open_dbus_connection(bus=address) as conn:
            reply = conn.send_and_get_reply(new_method_call(bus, "GetConnectionUnixProcessID", "s", (name,)),
                                            timeout=5)
            return int(unwrap_msg(reply)[0])
    except (DBusErrorResponse, OSError, TimeoutError):
        return None


def _wait_for_owner(address: str, name: str) -> int:
    """The owner's pid once ``name`` has registered on the bus."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        pid = owner_pid(address, name)
        if pid is not None:
            return pid
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not appear on the session bus within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie left to an init that does not reap counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
