"""Packaging checks that need no PyInstaller build (docs/packaging.md).

The spec is executed with stand-ins for PyInstaller's build classes and helpers, which record
what it asks for: the data it bundles must exist and land where ``assets.py`` and
``remote/loader.py`` look at run time; every module imported by name must be collected; no
module the product imports may be excluded. The Windows branch (version resource, icon) runs
here too, so that a mistake there does not first show on a Windows build machine. Then the
Inno Setup script, the build helper, the desktop entry and the icon writer.
"""

from __future__ import annotations

import ast
import configparser
import glob
import importlib
import os
import pkgutil
import shlex
import shutil
import struct
import subprocess
import sys
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import hvconsole
from hvconsole import assets, paths
from hvconsole.cli import build_parser
from hvconsole.remote import loader
from installer import build, icons, smoke

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "installer" / "hvconsole.spec"
ISS = ROOT / "installer" / "hvconsole.iss"
DESKTOP = ROOT / "resources" / "hvconsole.desktop"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


# -- the spec, executed with stand-ins for PyInstaller ------------------------------------

@dataclass
class SpecRun:
    namespace: dict
    built: dict[str, list] = field(default_factory=dict)

    def one(self, kind: str):
        (item,) = self.built[kind]
        return item

    @property
    def analysis(self):
        return self.one("Analysis")

    @property
    def exes(self) -> dict[str, object]:
        return {exe.kwargs["name"]: exe for exe in self.built["EXE"]}


def _recorder(kind: str, built: dict[str, list]):
    class Recorded:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
            # What PyInstaller's Analysis exposes to the rest of a spec.
            self.scripts, self.pure, self.binaries, self.datas = (f"{kind}.{n}" for n in
                                                                  ("scripts", "pure", "binaries", "datas"))
            built.setdefault(kind, []).append(self)
    Recorded.__name__ = kind
    return Recorded


def _collect_submodules(package: str, **_kwargs) -> list[str]:
    """The real list where the package is installed (PyInstaller's does the same)."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        return []
    if not hasattr(module, "__path__"):
        return [package]
    return [package] + [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]


def run_spec(monkeypatch: pytest.MonkeyPatch, platform: str | None = None) -> SpecRun:
    built: dict[str, list] = {}
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = _collect_submodules
    hooks.copy_metadata = lambda dist: [(f"<metadata of {dist}>", f"{dist}.dist-info")]
    versioninfo = types.ModuleType("PyInstaller.utils.win32.versioninfo")
    for name in ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable",
                 "StringStruct", "VarFileInfo", "VarStruct"):
        setattr(versioninfo, name, _recorder(name, built))
    for name, module in (("PyInstaller", types.ModuleType("PyInstaller")),
                         ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")),
                         ("PyInstaller.utils.hooks", hooks),
                         ("PyInstaller.utils.win32", types.ModuleType("PyInstaller.utils.win32")),
                         ("PyInstaller.utils.win32.versioninfo", versioninfo)):
        monkeypatch.setitem(sys.modules, name, module)
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(SPEC.parent)}
    namespace.update({kind: _recorder(kind, built) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")})
    code = compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")
    with monkeypatch.context() as patch:
        if platform:
            patch.setattr(sys, "platform", platform)
        exec(code, namespace)
    return SpecRun(namespace, built)


def bundle_layout(datas: list[tuple[str, str]]) -> dict[str, Path]:
    """Where each data file lands in the bundle (relative path -> source), by PyInstaller's
    rule: a file goes into the destination folder, a folder is copied with its tree."""
    layout: dict[str, Path] = {}
    for source, dest in datas:
        for match in ([source] if os.path.exists(source) else glob.glob(source)):
            path = Path(match)
            if path.is_file():
                layout[(Path(dest) / path.name).as_posix()] = path
            for item in (path.rglob("*") if path.is_dir() else ()):
                if item.is_file():
                    layout[(Path(dest) / item.relative_to(path)).as_posix()] = item
    return layout


@pytest.fixture(scope="module")
def spec_run() -> SpecRun:
    with pytest.MonkeyPatch.context() as mp:
        return run_spec(mp)


@pytest.fixture(scope="module")
def layout(spec_run) -> dict[str, Path]:
    return bundle_layout([d for d in spec_run.analysis.kwargs["datas"] if not d[0].startswith("<")])


def test_spec_compiles_and_every_data_source_exists(spec_run):
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")
    own = [(src, dest) for src, dest in spec_run.analysis.kwargs["datas"] if not src.startswith("<")]
    assert len(own) == len(spec_run.namespace["BUNDLED_DATA"])
    for source, dest in own:
        assert Path(source).is_relative_to(ROOT), source
        assert os.path.exists(source) or glob.glob(source), f"{source} matches nothing"
        assert not Path(dest).is_absolute() and ".." not in Path(dest).parts
    (entry,) = spec_run.analysis.args[0]
    assert "from hvconsole.cli import main" in Path(entry).read_text(encoding="utf-8")


def test_every_shipped_script_lands_where_the_loader_reads_it(layout):
    # In a frozen app importlib.resources maps a package to its dotted name as a folder.
    folder = "hvconsole.remote.scripts".replace(".", "/")
    names = loader.shipped_scripts()
    assert "collect" in names
    for name in names:
        source = layout.get(f"{folder}/{name}.ps1")
        assert source is not None, f"{name}.ps1 is not bundled"
        assert source.read_text(encoding="utf-8") == loader.script_body(name)


def test_every_resource_file_is_found_by_assets_in_the_bundle(layout, tmp_path, monkeypatch):
    """Lay the bundle's data out as PyInstaller would, then ask assets.py for every file of
    resources/ with sys._MEIPASS pointing at it."""
    for rel, source in layout.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assets.resources_dir.cache_clear()
    try:
        shipped = [p for p in (ROOT / "resources").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts]
        assert any(p.suffix == ".qss" for p in shipped) and any(p.suffix == ".svg" for p in shipped)
        for path in shipped:
            found = assets.asset_path(*path.relative_to(ROOT / "resources").parts)
            assert found.is_relative_to(tmp_path)
            assert found.read_bytes() == path.read_bytes(), path
    finally:
        monkeypatch.undo()
        assets.resources_dir.cache_clear()


def test_modules_imported_by_name_are_collected(spec_run):
    from hvconsole.cli import COMMAND_MODULES
    from hvconsole.sim.agent.host_agent import HANDLER_MODULES
    hidden = set(spec_run.analysis.kwargs["hiddenimports"])
    wanted = {f"hvconsole.cli.{n}" for n in COMMAND_MODULES} | set(HANDLER_MODULES)
    assert wanted <= hidden
    # The secret stores of the three platforms, and the NTLM stack pywinrm falls back from silently.
    assert {"keyring.backends.Windows", "keyring.backends.SecretService", "keyring.backends.macOS",
            "requests_ntlm", "spnego._ntlm", "spnego._sspi", "spnego._gss"} <= hidden
    metadata = [src for src, _ in spec_run.analysis.kwargs["datas"] if src.startswith("<")]
    assert "<metadata of keyring>" in metadata  # keyring finds backends via entry points


def _imported_modules() -> set[str]:
    found = set()
    for path in (ROOT / "hvconsole").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_the_product_imports_is_excluded(spec_run):
    excludes = spec_run.analysis.kwargs["excludes"]
    assert {"tkinter", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "pytest"} <= set(excludes)
    clashes = sorted(m for m in _imported_modules()
                     for e in excludes if m == e or m.startswith(e + "."))
    assert clashes == []
    # pyqtgraph imports these at import time (PlotCurveItem's OpenGL path): never exclude them.
    assert not {"PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtSvg"} & set(excludes)


def test_two_executables_share_one_folder(spec_run):
    exes = spec_run.exes
    assert set(exes) == {"hvconsole", "hvconsole-cli"}
    assert exes["hvconsole"].kwargs["console"] is False      # no console window for the GUI
    assert exes["hvconsole-cli"].kwargs["console"] is True
    for exe in exes.values():
        assert exe.kwargs["exclude_binaries"] is True          # onedir: libraries beside, not inside
        assert exe.kwargs["upx"] is False
    collect = spec_run.one("COLLECT")
    assert set(collect.args[:2]) == set(exes.values())
    assert collect.kwargs["name"] == "hvconsole"
    assert "BUNDLE" not in spec_run.built or sys.platform == "darwin"
    # The entry point is the same as the installed `hvconsole` command.
    assert PYPROJECT["project"]["scripts"]["hvconsole"] == "hvconsole.cli:main"


def test_windows_branch_sets_version_resource_and_icon(monkeypatch):
    run = run_spec(monkeypatch, platform="win32")
    numbers = tuple(int(n) for n in VERSION.split(".")[:3])
    ffi = [r for r in run.built["FixedFileInfo"]]
    assert len(ffi) == 2 and all(f.kwargs["filevers"] == (numbers + (0,) * 4)[:4] for f in ffi)
    strings = {}
    for table in run.built["StringTable"]:
        entries = dict(s.args for s in table.args[1])
        strings[entries["OriginalFilename"]] = entries
    assert set(strings) == {"hvconsole.exe", "hvconsole-cli.exe"}
    assert all(s["FileVersion"] == s["ProductVersion"] == VERSION for s in strings.values())
    icon = ROOT / "build" / "icons" / "hvconsole.ico"
    expected = str(icon) if icon.is_file() else None
    assert all(exe.kwargs["icon"] == expected for exe in run.exes.values())
    assert "win32ctypes.pywin32.win32cred" in run.analysis.kwargs["hiddenimports"]


def test_macos_branch_makes_an_app_bundle(monkeypatch):
    run = run_spec(monkeypatch, platform="darwin")
    app = run.one("BUNDLE")
    assert app.kwargs["name"] == "hvconsole.app" and app.kwargs["version"] == VERSION
    assert app.args == (run.one("COLLECT"),)


# -- the Windows installer script and the build helper ------------------------------------

def _iss_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in ISS.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            sections[current] = []
        elif stripped and not stripped.startswith(";"):
            sections[current].append(stripped)
    return sections


def test_installer_takes_the_version_from_the_build():
    sections = _iss_sections()
    preamble = sections[""]
    assert preamble.index("#ifndef AppVersion") + 1 == next(
        i for i, l in enumerate(preamble) if l.startswith("#error"))
    assert "AppVersion={#AppVersion}" in sections["Setup"]
    assert "OutputBaseFilename={#AppName}-{#AppVersion}-setup" in sections["Setup"]
    command = build.iscc_command(Path("ISCC.exe"), build.project_version(), Path("b"), Path("i.ico"), Path("o"))
    assert f"/DAppVersion={VERSION}" in command and command[-1] == str(ISS)
    # What the window reports is the same number.
    assert hvconsole.__version__ == VERSION


def test_installer_is_per_user_with_shortcuts_and_keeps_user_data():
    sections = _iss_sections()
    setup = sections["Setup"]
    assert "PrivilegesRequired=lowest" in setup
    assert "DefaultDirName={autopf}\\{#AppName}" in setup
    preamble = " ".join(sections[""])
    assert '#define AppExe "hvconsole.exe"' in preamble  # the spec's windowed executable
    icons_section = sections["Icons"]
    assert any(l.startswith('Name: "{autoprograms}\\{#AppName}";') and '"{app}\\{#AppExe}"' in l
               for l in icons_section)
    desktop = [l for l in icons_section if "{autodesktop}" in l]
    assert len(desktop) == 1 and "Tasks: desktopicon" in desktop[0]
    (task,) = sections["Tasks"]
    assert task.startswith('Name: "desktopicon"') and task.endswith("Flags: unchecked")
    # The uninstaller removes the program only, and says so.
    assert "UninstallDelete" not in sections
    messages = dict(l.split("=", 1) for l in sections["Messages"])
    for key in ("ConfirmUninstall", "UninstalledAll"):
        assert "kept" in messages[key]
        assert f"AppData\\Roaming\\{paths.APP_NAME}" in messages[key]
        assert f"AppData\\Local\\{paths.APP_NAME}" in messages[key]
    files = sections["Files"]
    assert files == ['Source: "{#BundleDir}\\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs']


def test_build_reports_missing_tools_plainly(monkeypatch):
    real = build._find_spec
    monkeypatch.setattr(build, "_find_spec", lambda m: None if m == "PyInstaller" else real(m))
    with pytest.raises(build.BuildError, match=r"pip install pyinstaller"):
        build.check_environment(want_installer=False)

    monkeypatch.setattr(build, "_find_spec", lambda m: None if m == "winrm" else real(m) or object())
    with pytest.raises(build.BuildError, match=r"dependencies \(winrm\)"):
        build.check_environment(want_installer=False)

    monkeypatch.setattr(build, "_find_spec", lambda m: real(m) or object())
    monkeypatch.setattr(build, "find_iscc", lambda: None)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(build.BuildError, match=r"Inno Setup 6.*--no-installer"):
        build.check_environment(want_installer=True)
    assert build.check_environment(want_installer=False).iscc is None


def test_build_finds_the_configured_inno_compiler(monkeypatch, tmp_path):
    iscc = tmp_path / "ISCC.exe"
    monkeypatch.setenv("INNO_SETUP_COMPILER", str(iscc))
    assert build.find_iscc() is None  # configured but absent: say so, do not guess elsewhere
    iscc.write_bytes(b"")
    assert build.find_iscc() == iscc


# -- the desktop entry --------------------------------------------------------------------

def _desktop_entry() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser


def test_desktop_entry_has_the_required_keys_and_a_valid_exec():
    entry = _desktop_entry()
    main = entry["Desktop Entry"]
    assert main["Type"] == "Application"
    for key in ("Name", "Comment", "Exec", "Icon", "Categories"):
        assert main.get(key), key
    assert main["Terminal"] == "false"
    assert main["Categories"].endswith(";") and main["Categories"].split(";")[0] in {
        "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
        "Network", "Office", "Science", "Settings", "System", "Utility"}
    # The icon is the application icon, by theme name.
    assert (ROOT / "resources" / "icons" / "app" / f"{main['Icon']}.svg").is_file()
    # Every Exec (the entry and each action) runs an installed command with arguments it accepts.
    actions = [a for a in main["Actions"].split(";") if a]
    execs = [main["Exec"]] + [entry[f"Desktop Action {a}"]["Exec"] for a in actions]
    for line in execs:
        program, *args = shlex.split(line)
        assert program in PYPROJECT["project"]["scripts"]
        assert not any(a.startswith("%") for a in args), "hvconsole takes no files or URLs"
        assert build_parser().parse_args(args).command is None  # opens the window
    assert main["TryExec"] == shlex.split(main["Exec"])[0]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_passes_desktop_file_validate():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# -- the icon writer ----------------------------------------------------------------------

def _read_all(path: Path, fmt: bytes):
    from PySide6.QtGui import QImage, QImageReader
    reader = QImageReader(str(path), fmt)
    images = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        images.append(image.convertToFormat(QImage.Format.Format_ARGB32))
    return images


def test_icons_are_rendered_from_the_svg_and_read_back_by_qt(qapp, tmp_path):
    files = icons.write_icons(ROOT / "resources" / "icons" / "app" / "hvconsole.svg", tmp_path)
    svg = ROOT / "resources" / "icons" / "app" / "hvconsole.svg"

    ico = files.ico.read_bytes()
    assert struct.unpack_from("<HHH", ico) == (0, 1, len(icons.ICO_SIZES))
    decoded = _read_all(files.ico, b"ico")
    assert [i.width() for i in decoded] == list(icons.ICO_SIZES)
    # Pixel for pixel what Qt renders: proves the DIB rows, channel order and alpha are right.
    for image in decoded:
        assert image == icons.render(svg, image.width()), f"{image.width()} px differs"
    # The small sizes are DIBs (BITMAPINFOHEADER), the largest is PNG.
    entries = [struct.unpack_from("<BBBBHHII", ico, 6 + 16 * i) for i in range(len(icons.ICO_SIZES))]
    assert all(ico[e[7]:e[7] + 4] == b"\x28\0\0\0" for e in entries[:-1])
    assert ico[entries[-1][7]:entries[-1][7] + 8] == b"\x89PNG\r\n\x1a\n" and entries[-1][0] == 0

    icns = files.icns.read_bytes()
    assert icns[:4] == b"icns" and struct.unpack_from(">I", icns, 4)[0] == len(icns)
    assert sorted(i.width() for i in _read_all(files.icns, b"icns")) == sorted(
        size for _, size in icons.ICNS_ELEMENTS)


def test_icon_writer_rejects_sizes_ico_cannot_hold():
    with pytest.raises(ValueError):
        icons.ico_bytes([(512, b"")])


# -- the smoke runner, against the product run from source ---------------------------------

@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in bundle uses shell scripts")
def test_smoke_runner_passes_on_a_working_product_and_reports_a_broken_one(tmp_path):
    """A stand-in bundle whose executables are `python -m hvconsole`: smoke.py must pass it,
    and must fail a bundle whose window cannot start."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("hvconsole", "hvconsole-cli"):
        script = bundle / name
        script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m hvconsole "$@"\n')
        script.chmod(0o755)
    checks = smoke.run_checks(bundle, tmp_path / "shot.png", demo_seconds=1.0)
    assert [c.name for c in checks if not c.ok] == [], smoke.report(bundle, checks)
    assert len(checks) == 6
    assert "demo site's own process" in {c.name for c in checks}

    (bundle / "hvconsole").write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    broken = {c.name: c for c in smoke.run_checks(bundle, tmp_path / "shot2.png", demo_seconds=1.0)}
    failed = [c for c in broken.values() if not c.ok]
    assert len(failed) == 2 and all("exit 3: cannot start" in c.detail for c in failed)
