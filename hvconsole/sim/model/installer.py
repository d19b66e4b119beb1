"""The simulated installer: what running one package on one host does, and what the install
wrapper of ``patch_install_start.ps1`` writes about it.

What an install does is scenario data when a scenario says so (:class:`InstallOutcome` by
KB in ``host.patch.outcomes``); otherwise the installer decides as Windows would: a file
that is not the genuine package (``packages.package_bytes``) is damaged, an update for
another OS is not applicable, one already there is "already installed", anything else
installs and asks for a reboot (3010).

The wrapper's steps are reproduced per method (hyperv-notes §7): on WS2016-2022 ``auto``
and ``dism`` expand the .msu and add the servicing stack cab first, then the update's cab;
WS2025, ``wusa``, ``add-windowspackage`` and a bare .cab are one step. The result's exit
code is chosen from the steps exactly as the wrapper's ``Select-ExitCode`` does (first
failure, else 3010, 1641, 0, else the first code), so a test of the engine against the
simulated site meets the same codes it will meet on a real host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .host_drive import FolderDrive, MemoryDrive, file_name_of
from .load import unit
from .packages import kb_of, package_sha256, update_target, update_title

# Exit codes (hyperv-notes §7), unsigned 32-bit as the wrapper writes them.
EXIT_OK = 0
EXIT_REBOOT_REQUIRED = 3010
EXIT_REBOOT_INITIATED = 1641
EXIT_ALREADY_INSTALLED = 0x00240006     # WU_S_ALREADY_INSTALLED
EXIT_NOT_APPLICABLE = 0x80240017        # WU_E_NOT_APPLICABLE (wusa)
EXIT_DISM_NOT_APPLICABLE = 0x800F081E   # CBS_E_NOT_APPLICABLE (DISM, Add-WindowsPackage)
EXIT_SERVICING_FAILURE = 0x800F0922
EXIT_FILE_CORRUPT = 0x80070570          # ERROR_FILE_CORRUPT: a damaged package [U for expand.exe]
EXIT_WRAPPER_FAILED = 0x80004005        # the wrapper's own "could not even start the installer"
OK_CODES = frozenset({EXIT_OK, EXIT_REBOOT_REQUIRED, EXIT_REBOOT_INITIATED, EXIT_ALREADY_INSTALLED})
SUCCESS_CODES = frozenset({EXIT_OK, EXIT_REBOOT_REQUIRED, EXIT_REBOOT_INITIATED})
METHODS = ("auto", "dism", "wusa", "add-windowspackage")

# How long the installer runs, by outcome (simulated seconds at speed 1).
INSTALL_SECONDS = {"success": (240.0, 540.0), "failure": (180.0, 360.0), "not-applicable": (20.0, 45.0),
                   "already": (25.0, 60.0), "corrupt": (5.0, 15.0), "wrapper": (2.0, 4.0)}


@dataclass(frozen=True)
class InstallOutcome:
    """What installing one KB does on one host (scenario data). ``exit_code`` is what the
    update's own installer step returns; the wrapper's result may differ (see above)."""

    exit_code: int = EXIT_REBOOT_REQUIRED
    reboots: int = 1                     # 2: the first reboot leaves it pending, the build moves on the second
    build: int | None = None             # None: the host's CurrentBuild
    ubr: int | None = None               # None: the catalog's target for that build
    seconds: tuple[float, float] | None = None   # installer run time; None: by outcome


@dataclass(frozen=True)
class InstallRun:
    """One planned installer run: its result and what it changes when it ends."""

    kb: str | None
    method: str                          # as the result file names it
    steps: tuple[tuple[str, int], ...]
    exit_code: int
    log: tuple[str, ...]
    seconds: float
    apply: Callable[[], None] | None     # the update taking effect (success only)

    @property
    def failed(self) -> bool:
        return self.exit_code not in OK_CODES


def select_exit_code(steps: tuple[tuple[str, int], ...], wrapper_failed: bool = False) -> int:
    """The wrapper's Select-ExitCode: first failing step, else 3010, 1641, 0, else the first."""
    codes = []
    for cab, code in steps:
        ssu_not_applicable = cab.lower().startswith("ssu-") and code == EXIT_DISM_NOT_APPLICABLE
        if code not in OK_CODES and not ssu_not_applicable:
            return code
        codes.append(code)
    if wrapper_failed:
        return EXIT_WRAPPER_FAILED
    for preferred in (EXIT_REBOOT_REQUIRED, EXIT_REBOOT_INITIATED, EXIT_OK):
        if preferred in codes:
            return preferred
    return codes[0] if codes else EXIT_WRAPPER_FAILED


class InstallHost(Protocol):
    """What the installer reads of the host it runs on (a :class:`~.host.SimHost`), and the
    one change a successful install makes to it."""

    build: int
    ubr: int
    hotfixes: list[str]
    seed: int
    reboots: int

    def install_update(self, kb: str, *, ubr: int, build: int | None = None, reboots: int = 1,
                       title: str | None = None, build_on_last_reboot: bool = False) -> None: ...


def plan_install(host: InstallHost, drive: MemoryDrive | FolderDrive, runs: int, package_path: str,
                 method: str, outcomes: Mapping[str, InstallOutcome]) -> InstallRun:
    """What running the install task for ``package_path`` on ``host`` (its C: ``drive``, its
    tasks' ``runs`` so far) now will do."""
    name = file_name_of(package_path)
    kb = kb_of(name)
    is_cab = name.lower().endswith(".cab")
    log = [f"build {host.build}, method {'dism' if method == 'auto' else method}, package {name}"]
    problem = None
    if drive.size(package_path) is None:
        problem = "package not found"
    elif method == "wusa" and is_cab:
        problem = "wusa installs .msu packages only"
    if problem is not None:
        log = [f"wrapper failed: {problem}"]
        return InstallRun(kb, method, (), EXIT_WRAPPER_FAILED, tuple(log), _seconds(host, runs, "wrapper", None), None)
    method = "dism" if method == "auto" else method
    kind, code, apply = _decide(host, drive, package_path, method, outcomes)
    steps = _steps(host, name, kb, method, is_cab, kind, code)
    for cab, step_code in steps:
        log += [f"run {cab}", f"{cab}: exit code {step_code}"]
    exit_code = select_exit_code(steps)
    override = outcomes.get(kb) if kb else None
    seconds = _seconds(host, runs, kind, override.seconds if override else None)
    return InstallRun(kb, method, steps, exit_code, tuple(log), seconds,
                      apply if exit_code in SUCCESS_CODES else None)


def _seconds(host: InstallHost, runs: int, kind: str, given: tuple[float, float] | None) -> float:
    low, high = given if given is not None else INSTALL_SECONDS[kind]
    return low + (high - low) * unit(host.seed, 61, host.reboots * 1000 + runs)


def _decide(host: InstallHost, drive: MemoryDrive | FolderDrive, package_path: str, method: str,
            outcomes: Mapping[str, InstallOutcome]) -> tuple[str, int, Callable[[], None] | None]:
    """(kind, the update step's exit code, what success changes)."""
    name = file_name_of(package_path)
    if drive.sha256(package_path) != package_sha256(name):
        return "corrupt", EXIT_FILE_CORRUPT, None
    kb = kb_of(name)
    not_applicable = EXIT_NOT_APPLICABLE if method == "wusa" else EXIT_DISM_NOT_APPLICABLE
    if kb is None:
        return "not-applicable", not_applicable, None
    override = outcomes.get(kb)
    if override is not None:
        code = override.exit_code & 0xFFFFFFFF
        if code not in SUCCESS_CODES:
            return _kind_of(code), code, None
        build = override.build or host.build
        ubr = override.ubr if override.ubr is not None else update_target(kb, build)
        if ubr is None:
            raise ValueError(f"the outcome for {kb} succeeds but no target UBR is known for build {build}")
        return "success", code, _apply(host, kb, build, ubr, override.reboots)
    target = update_target(kb, host.build)
    if target is None:
        return "not-applicable", not_applicable, None
    if kb in host.hotfixes or host.ubr >= target:
        return "already", EXIT_ALREADY_INSTALLED, None
    return "success", EXIT_REBOOT_REQUIRED, _apply(host, kb, host.build, target, 1)


def _apply(host: InstallHost, kb: str, build: int, ubr: int, reboots: int) -> Callable[[], None]:
    def apply() -> None:
        host.install_update(kb, ubr=ubr, build=build, reboots=reboots, title=update_title(kb),
                            build_on_last_reboot=reboots > 1)
    return apply


def _kind_of(code: int) -> str:
    if code == EXIT_ALREADY_INSTALLED:
        return "already"
    if code in (EXIT_NOT_APPLICABLE, EXIT_DISM_NOT_APPLICABLE):
        return "not-applicable"
    if code == EXIT_FILE_CORRUPT:
        return "corrupt"
    return "failure"


def _steps(host: InstallHost, name: str, kb: str | None, method: str, is_cab: bool, kind: str,
           code: int) -> tuple[tuple[str, int], ...]:
    """The wrapper's steps: one installer call, or expand + servicing stack + update cab."""
    if method != "dism" or is_cab or host.build >= 26100:
        return ((name, code),)
    expand = f"expand {name}"
    if kind == "corrupt":
        return ((expand, EXIT_FILE_CORRUPT),)
    # The servicing stack is usually current already (not applicable: no failure for an SSU).
    ssu_code = {"already": EXIT_ALREADY_INSTALLED, "not-applicable": EXIT_DISM_NOT_APPLICABLE}.get(kind, EXIT_OK)
    return ((expand, EXIT_OK), (f"SSU-{host.build}.{host.ubr}-x64.cab", ssu_code),
            (f"Windows10.0-{kb or 'package'}-x64.cab", code))
