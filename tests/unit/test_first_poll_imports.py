"""What a first start imports before its first polls can leave: the modules the workers
and the monitor need (app.CLIENT_MODULES, app.WORKER_MODULES), on one starter thread, while
the window waits for them. Neither the keyring's stack (~65 ms; only a configured site needs
it, and it is imported where that site is opened) nor numpy (~50 ms; imported where a
host's first answer is turned into rows) is among them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import importlib, json, sys
from hvconsole.app import CLIENT_MODULES, WORKER_MODULES
for name in CLIENT_MODULES + WORKER_MODULES:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in ("keyring", "numpy", "hvconsole.credentials", "hvconsole.patch.engine")
                        if m in sys.modules)))
"""


def test_the_modules_before_the_first_polls_leave_out_the_keyring_and_numpy():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, env=env,
                         check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_a_site_without_an_inventory_gets_its_workers_without_the_keyring():
    code = ("import sys; from types import SimpleNamespace; from hvconsole.monitoring.workers import site_workers; "
            "site_workers(SimpleNamespace(targets=[], speed=1.0, clock=None, book=None)); "
            "print('keyring' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
