"""The demo's process from an installed (not editable) package: the package's directory is
then site-packages, and the window may be started from any working directory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import hvconsole


def test_the_child_finds_the_standard_library_before_site_packages_and_the_working_directory(tmp_path):
    site = tmp_path / "site packages 'x'"             # a space and a quote in the path too
    shutil.copytree(Path(hvconsole.__file__).parent, site / "hvconsole",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # An old backport in site-packages and a script in the working directory, each named
    # as a module of the standard library the child imports.
    (site / "pathlib.py").write_text("raise ImportError('site-packages came first')\n")
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "json.py").write_text("raise ImportError('the working directory came first')\n")
    # The window: site-packages after the standard library (as the site module puts it), and
    # no working directory on its path (as a console script has none).
    window = ("import sys; sys.path.append(sys.argv[1]); import subprocess; "
              "from hvconsole.sim.child import child_command; "
              "p = subprocess.Popen(child_command('demo', 60.0), stdin=subprocess.PIPE, stdout=subprocess.PIPE, "
              "text=True); line = p.stdout.readline(); p.stdin.close(); p.wait(10); print(line, end='')")
    out = subprocess.run([sys.executable, "-S", "-P", "-c", window, str(site)], cwd=cwd, capture_output=True,
                         text=True, timeout=60)
    doc = json.loads(out.stdout)
    assert "error" not in doc and doc["site"] == "demo", doc
