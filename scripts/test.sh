#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine (or reuses what
# is there), then runs the static checks (scripts/check.sh) and the whole pytest suite. CI
# runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a virtual X server for GUI smoke runs, a real Secret Service (keyring
# integration test) and Samba (SMB package staging). Only installed when missing.
need_apt=()
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb)
command -v dbus-run-session >/dev/null 2>&1 || need_apt+=(dbus)
command -v gnome-keyring-daemon >/dev/null 2>&1 || need_apt+=(gnome-keyring)
command -v smbd >/dev/null 2>&1 || need_apt+=(samba)
command -v desktop-file-validate >/dev/null 2>&1 || need_apt+=(desktop-file-utils)
# Kerberos: a real MIT KDC (kdb5_util, kadmin.local), kinit, faketime (clock skew) and the
# headers the Python Kerberos modules build against (no wheels: 2.5-12 min the first time, then cached).
[ -x /usr/sbin/krb5kdc ] || need_apt+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || need_apt+=(krb5-admin-server)
command -v kinit >/dev/null 2>&1 || need_apt+=(krb5-user)
command -v krb5-config >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
# Prometheus (and promtool): a real server scrapes `hvconsole agent --demo` in the tests.
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
# Qt's xcb/offscreen platform plugins need these shared libraries.
for lib in libEGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3 libGL.so.1; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || { need_apt+=(libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libgl1); break; }
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "note: missing system packages (${need_apt[*]}); tests that need them will be skipped" >&2
  fi
fi

python3 -m venv .venv
# The kerberos extra compiles against libkrb5-dev; without it the Kerberos tests skip.
extras=test
if command -v krb5-config >/dev/null 2>&1; then extras=test,kerberos
else echo "note: no krb5-config (libkrb5-dev): Kerberos support not installed, its tests will be skipped" >&2; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]" 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import hvconsole, PySide6, winrm, pytestqt' # fail fast if the install did not take

# The import contracts, ruff and mypy (docs/house-rules.md); the paths and rules are in
# pyproject.toml ([tool.importlinter], [tool.ruff], [tool.mypy]).
bash scripts/check.sh
echo "== tests"
export QT_QPA_PLATFORM=offscreen
# The suite starts Python processes by the dozen (the CLI, the simulator) that import the
# same modules: let them share compiled bytecode (__pycache__, ignored by git) instead of
# each compiling the product again when the environment says not to write it.
unset PYTHONDONTWRITEBYTECODE
# Six workers on two cores: most of the suite waits (simulated hosts, child processes,
# servers), it does not compute: on two workers it used a third of one core. Six keep both
# cores busy; eight starved GUI tests that race their own window (docs/performance.md,
# "Test suite", fourth round); `-n 0` as an argument runs it in one process. Tests go out longest first
# (tests/scheduling.py), so xdist must not reorder the groups by their number of tests.
# A worker that dies (a native crash) ends the run at once with its test named: xdist's
# replacement worker was seen waiting forever for the dead one's share under loadgroup.
exec .venv/bin/python -m pytest -n 6 --dist loadgroup --no-loadscope-reorder --max-worker-restart 0 "$@"
