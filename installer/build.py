"""Build hvconsole for the admin who double-clicks, in one command:

    python installer/build.py [--smoke] [--no-installer]

1. checks the environment (Python, the project's dependencies, PyInstaller and, on Windows,
   the Inno Setup compiler) and says what is missing and how to get it;
2. renders the application icon (.ico, .icns) from resources/icons/app/hvconsole.svg;
3. runs PyInstaller with installer/hvconsole.spec: dist/hvconsole/ (dist/hvconsole.app on macOS);
4. on Windows, compiles installer/hvconsole.iss: dist/hvconsole-<version>-setup.exe;
5. with --smoke, runs the bundle once (installer/smoke.py) and prints timings;
then prints where everything is. Run it with the Python of the project's virtualenv.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (`python installer/build.py`): make the sibling modules importable
    # as the `installer` package, as they are for the tests.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from installer import icons, smoke  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "hvconsole.spec"
ISS = ROOT / "installer" / "hvconsole.iss"
APP_SVG = ROOT / "resources" / "icons" / "app" / "hvconsole.svg"
BUILD_DIR = ROOT / "build"
ICON_DIR = BUILD_DIR / "icons"  # the spec reads the icons from here
DIST_DIR = ROOT / "dist"
MIN_PYTHON = (3, 11)
# Imported by the product at run time; PyInstaller bundles what this Python can import.
RUNTIME_MODULES = ("PySide6.QtSvg", "pyqtgraph", "numpy", "winrm", "requests_ntlm", "spnego",
                   "keyring", "platformdirs", "smbprotocol", "cryptography")
INNO_DOWNLOAD = "https://jrsoftware.org/isdl.php"


class BuildError(Exception):
    """A problem the person building can fix; the message says how."""


@dataclass(frozen=True)
class Tools:
    iscc: Path | None  # None: no installer is built


def project_version() -> str:
    """The version in pyproject.toml: the one the executables and the installer carry."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["version"]


def find_iscc() -> Path | None:
    """Inno Setup's command-line compiler: $INNO_SETUP_COMPILER, PATH, or where Inno Setup 6
    installs itself (for all users, or per user without admin rights)."""
    configured = os.environ.get("INNO_SETUP_COMPILER")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    on_path = shutil.which("ISCC") or shutil.which("iscc")
    if on_path:
        return Path(on_path)
    for base in ("ProgramFiles(x86)", "ProgramFiles", "LOCALAPPDATA"):
        root = os.environ.get(base)
        if not root:
            continue
        for folder in ("Inno Setup 6", os.path.join("Programs", "Inno Setup 6")):
            candidate = Path(root) / folder / "ISCC.exe"
            if candidate.is_file():
                return candidate
    return None


def check_environment(want_installer: bool) -> Tools:
    """Everything the build needs, checked before a build that takes minutes."""
    if sys.version_info < MIN_PYTHON:
        raise BuildError(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed; this is {sys.version.split()[0]}.")
    missing = [m for m in RUNTIME_MODULES if _find_spec(m) is None]
    if _find_spec("hvconsole") is None or missing:
        raise BuildError(
            "this Python lacks the project's dependencies "
            f"({', '.join(missing) or 'hvconsole'}). Run the build with the project's virtualenv, "
            "after `python -m pip install -e .` in the repository.")
    if _find_spec("PyInstaller") is None:
        raise BuildError("PyInstaller is not installed in this Python: `python -m pip install pyinstaller`.")
    if not APP_SVG.is_file():
        raise BuildError(f"the application icon {APP_SVG} is missing.")
    iscc = None
    if want_installer and sys.platform == "win32":
        iscc = find_iscc()
        if iscc is None:
            raise BuildError(
                "the Inno Setup 6 compiler (ISCC.exe) was not found. Install Inno Setup 6 from "
                f"{INNO_DOWNLOAD} (the per-user install needs no admin rights), or set "
                "INNO_SETUP_COMPILER to ISCC.exe, or build only the folder with --no-installer.")
    return Tools(iscc=iscc)


def _find_spec(module: str):
    try:
        return importlib.util.find_spec(module)
    except ImportError:  # a parent package is missing
        return None


def pyinstaller_command() -> list[str]:
    return [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
            "--distpath", str(DIST_DIR), "--workpath", str(BUILD_DIR / "pyinstaller"), str(SPEC)]


def iscc_command(iscc: Path, version: str, bundle: Path, icon: Path, out_dir: Path) -> list[str]:
    """The installer compiler's command line. The version comes from pyproject.toml (the
    same one PyInstaller wrote into the executables); the script refuses to compile without it."""
    return [str(iscc), "/Qp", f"/DAppVersion={version}", f"/DBundleDir={bundle}",
            f"/DIconFile={icon}", f"/DOutputDir={out_dir}", str(ISS)]


def bundle_path() -> Path:
    return DIST_DIR / ("hvconsole.app" if sys.platform == "darwin" else "hvconsole")


def run_step(title: str, argv: list[str]) -> float:
    print(f"== {title}\n   {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    try:
        subprocess.run(argv, cwd=ROOT, check=True)
    except FileNotFoundError as exc:
        raise BuildError(f"{title}: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{title} failed (exit {exc.returncode}); its output is above.") from exc
    return time.perf_counter() - start


def build(*, want_installer: bool, run_smoke: bool) -> int:
    tools = check_environment(want_installer)
    version = project_version()
    print(f"hvconsole {version}: building on {sys.platform} with Python {sys.version.split()[0]}")

    print("== application icon")
    icon_files = icons.write_icons(APP_SVG, ICON_DIR)
    print(f"   {icon_files.ico}\n   {icon_files.icns}")

    seconds = run_step("PyInstaller", pyinstaller_command())
    bundle = bundle_path()
    if not bundle.exists():
        raise BuildError(f"PyInstaller finished but {bundle} is not there.")
    outputs = [f"bundle:    {bundle}  ({smoke.bundle_size(bundle) / 2**20:.0f} MiB, built in {seconds:.0f} s)"]

    if tools.iscc is not None:
        run_step("Inno Setup", iscc_command(tools.iscc, version, bundle, icon_files.ico, DIST_DIR))
        setup = DIST_DIR / f"hvconsole-{version}-setup.exe"
        if not setup.is_file():
            raise BuildError(f"Inno Setup finished but {setup} is not there.")
        outputs.append(f"installer: {setup}  ({setup.stat().st_size / 2**20:.0f} MiB)")
    elif sys.platform == "win32":
        outputs.append("installer: not built (--no-installer)")
    else:
        outputs.append("installer: the Windows installer is built on Windows only")

    code = 0
    if run_smoke:
        print("== smoke run of the bundle")
        checks = smoke.run_checks(bundle, DIST_DIR / "smoke-demo.png", demo_seconds=8.0)
        print(smoke.report(bundle, checks))
        code = 0 if all(c.ok for c in checks) else 1
    print("\n".join(["== done", *outputs]))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the hvconsole bundle (PyInstaller) and, on Windows, its installer (Inno Setup).")
    parser.add_argument("--no-installer", action="store_true",
                        help="Windows: build the folder only, not the setup program")
    parser.add_argument("--smoke", action="store_true",
                        help="run the built bundle once (help, trace, demo poll, screenshots) and time it")
    args = parser.parse_args(argv)
    try:
        return build(want_installer=not args.no_installer, run_smoke=args.smoke)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
