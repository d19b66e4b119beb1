"""The Windows CI workflow (.github/workflows/windows.yml). It cannot run here, so it is
checked the ways that can: GitHub's workflow schema (check-jsonschema's vendored copy), and
what the two jobs must do: Python 3.11 and Inno Setup on windows-latest, the real build
command with --smoke, the installer and both smoke screenshots kept (named as build.py and
smoke.py write them), and the unit and simulated-site tests on Windows. actionlint is run by
hand (docs/packaging.md "CI"): its PyPI wrapper downloads the binary at install time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "windows.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def runs(workflow: dict, job: str) -> str:
    return "\n".join(s.get("run", "") for s in steps(workflow, job))


def uses(workflow: dict, job: str, action: str) -> list[dict]:
    return [s for s in steps(workflow, job) if s.get("uses", "").startswith(action + "@")]


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(found).exists():
        pytest.fail("check-jsonschema is part of the test extras; install them (scripts/test.sh)")
    return found


def test_the_workflow_is_valid_for_github():
    done = subprocess.run([check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "run-on:", 1), encoding="utf-8")
    done = subprocess.run([check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


def test_both_jobs_run_on_windows_with_python_311(workflow):
    assert set(workflow["jobs"]) == {"installer", "tests"}
    for job in ("installer", "tests"):
        assert workflow["jobs"][job]["runs-on"] == "windows-latest"
        assert workflow["jobs"][job]["timeout-minutes"] <= 90
        (python,) = uses(workflow, job, "actions/setup-python")
        assert str(python["with"]["python-version"]) == "3.11"
        assert uses(workflow, job, "actions/checkout")
    assert workflow["permissions"] == {"contents": "read"}


def test_the_installer_job_builds_with_smoke_and_keeps_the_outputs(workflow):
    commands = runs(workflow, "installer")
    assert "choco install innosetup" in commands
    assert "python installer/build.py --smoke" in commands
    assert (ROOT / "installer" / "build.py").is_file()
    kept = "\n".join(s["with"]["path"] for s in uses(workflow, "installer", "actions/upload-artifact"))
    assert "dist/hvconsole-*-setup.exe" in kept
    # The names build.py gives the smoke screenshots (the demo one, and its "-welcome" twin).
    build = (ROOT / "installer" / "build.py").read_text(encoding="utf-8")
    smoke = (ROOT / "installer" / "smoke.py").read_text(encoding="utf-8")
    assert 'DIST_DIR / "smoke-demo.png"' in build and 'screenshot.stem + "-welcome.png"' in smoke
    assert "dist/smoke-demo.png" in kept and "dist/smoke-demo-welcome.png" in kept
    # build.py names its setup program hvconsole-<version>-setup.exe
    assert '-setup.exe' in build


def test_the_tests_job_runs_the_unit_and_simulated_site_tests(workflow):
    commands = runs(workflow, "tests")
    assert 'pip install -e ".[test]"' in commands and "lint-imports" in commands
    pytest_line = next(line for line in commands.splitlines() if "pytest" in line)
    for folder in ("tests/unit", "tests/sim", "tests/remote"):
        assert folder in pytest_line and (ROOT / folder).is_dir()
