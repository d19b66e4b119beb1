"""The stage step: get the package onto the host and prove it arrived intact.

Reality first: the host is asked for the file and its SHA-256 (``patch_stage_check``,
``Get-FileHash`` on the host) before anything is copied; a file already there and matching
is left alone. Otherwise the package is pushed over SMB (``remote.smb_stage``: resumes a
partial copy) or, when the plan says it is already on the host, only checked. A file whose
hash does not match after the copy is removed and the host fails: a package that is not
the one the catalog names is never installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Protocol

from hvconsole.core.catalog import CatalogUpdate
from hvconsole.core.patch.plan import PatchPlan
from hvconsole.core.patch.vocabulary import Step, StepOutcome
from hvconsole.remote.smb_stage import STAGE_DIR, Cancel, StageError, StageResult, file_sha256, host_path_for
from hvconsole.remote.target import Target

from .context import HostContext
from .control import RunControl
from .waiting import StopRequested

STAGING_DIR = str(PureWindowsPath("C:\\") / STAGE_DIR)


@dataclass(frozen=True, slots=True)
class PackagePlan:
    """Where the package comes from and where it must be on the host."""

    kind: str                     # smb-push | on-host | url
    file_name: str
    host_path: str
    local_path: Path | None
    expected_sha256: str | None
    size_mb: float | None


def package_plan(plan: PatchPlan, update: CatalogUpdate) -> PackagePlan:
    src = plan.package
    catalog_pkg = update.packages[0] if update.packages else None
    if src.kind == "on-host":
        host_path = src.location or (host_path_for(catalog_pkg.file) if catalog_pkg else "")
        name = PureWindowsPath(host_path).name
        local = None
    elif src.kind == "smb-push":
        local = Path(src.location) if src.location else None
        name = local.name if local else (catalog_pkg.file if catalog_pkg else "")
        host_path = host_path_for(name) if name else ""
    else:
        name = catalog_pkg.file if catalog_pkg else ""
        host_path, local = host_path_for(name) if name else "", None
    expected = src.sha256 or next((p.sha256 for p in update.packages if p.file.lower() == name.lower()), None)
    size_mb = None
    if local is not None and local.is_file():
        st = local.stat()
        size_mb = st.st_size / 2**20
        # No hash in the plan or catalog: the local file's own hash is what the host must show.
        expected = expected or file_sha256(local)
    return PackagePlan(src.kind, name, host_path, local, expected.lower() if expected else None, size_mb)


class Stager(Protocol):
    """Moves a package to a host's staging folder, and takes it away again."""

    def push(self, host: str, local: Path, expected_sha256: str | None,
             cancel: Cancel | None = None) -> StageResult: ...

    def remove(self, host: str, file_name: str) -> None: ...


class SmbStager:
    """Pushes to ``\\\\<address>\\C$`` with the host's own credentials (an administrator's:
    the admin share needs one). ``server_for`` / ``port`` point elsewhere for tests."""

    def __init__(self, target_for: Callable[[str], Target], *, port: int = 445,
                 server_for: Callable[[Target], str] | None = None,
                 credentials: Callable[[Target], tuple[str, str]] | None = None):
        self._target_for = target_for
        self._port = port
        self._server_for = server_for or (lambda t: t.hostname)
        self._credentials = credentials or (lambda t: (t.username, t.password))

    def push(self, host: str, local: Path, expected_sha256: str | None,
             cancel: Cancel | None = None) -> StageResult:
        """``cancel`` (anything with ``is_set()``) ends the copy within a second, leaving a
        partial copy the next attempt resumes from; a copy that makes no progress fails after
        ``smb_stage.STALL_TIMEOUT_S``."""
        from hvconsole.remote.smb_stage import push_package
        target = self._target_for(host)
        user, password = self._credentials(target)
        return push_package(local, self._server_for(target), username=user, password=password,
                            port=self._port, expected_sha256=expected_sha256, cancel=cancel)

    def remove(self, host: str, file_name: str) -> None:
        from hvconsole.remote.smb_stage import remove_staged
        target = self._target_for(host)
        user, password = self._credentials(target)
        remove_staged(self._server_for(target), file_name, username=user, password=password, port=self._port)


class RunCancel:
    """What a long copy polls for "stop now": this process stopping (a signal), or a cancel
    asked for through the journal (the window or another terminal). Copying a large package
    takes minutes; a cancel must not wait for it. The journal is read at most every
    ``JOURNAL_EVERY_S`` seconds, the stop event every time."""

    JOURNAL_EVERY_S = 0.5

    def __init__(self, control: RunControl):
        self.control = control
        self._cancelling = False
        self._read_at = float("-inf")

    def is_set(self) -> bool:
        if self.control.stop.is_set():
            return True
        now = time.monotonic()
        if not self._cancelling and now - self._read_at >= self.JOURNAL_EVERY_S:
            self._read_at = now
            self._cancelling = self.control.cancel_requested()
        return self._cancelling


def stage(hc: HostContext) -> str:
    pkg = package_plan(hc.run.plan, hc.run.update)
    if not pkg.host_path:
        h = hc.begin(Step.STAGE, {"kind": pkg.kind}, "no package")
        return h.finish(StepOutcome.FAILED, "the plan names no package and the catalog lists none for this update")
    if pkg.kind == "url":
        h = hc.begin(Step.STAGE, {"kind": pkg.kind}, "package from a URL")
        return h.finish(StepOutcome.FAILED, "downloading on the host is not supported (Kerberos double hop, "
                                            "hyperv-notes §7): download the package here and plan an SMB push instead")
    found = hc.api.stage_check(pkg.host_path, pkg.expected_sha256)
    intent = {"kind": pkg.kind, "host_path": pkg.host_path, "expected_sha256": pkg.expected_sha256,
              "local_file": str(pkg.local_path) if pkg.local_path else None,
              "found": {"exists": found.exists, "size": found.size, "sha256": found.sha256}}
    h = hc.begin(Step.STAGE, intent, f"{pkg.file_name} to {pkg.host_path}")
    if found.exists and _good(found.matches, pkg.expected_sha256):
        return h.finish(StepOutcome.OK, f"already on the host, SHA-256 {found.sha256}", sha256=found.sha256,
                        size=found.size, host_path=pkg.host_path, bytes_sent=0, already_there=True)
    if pkg.kind == "on-host":
        if not found.exists:
            return h.finish(StepOutcome.FAILED, f"{pkg.host_path} is not on the host", host_path=pkg.host_path)
        return h.finish(StepOutcome.FAILED, f"{pkg.host_path} on the host has SHA-256 {found.sha256}, the catalog says "
                                  f"{pkg.expected_sha256}: refusing to install it", sha256=found.sha256)
    stager = hc.run.stager
    if stager is None or pkg.local_path is None:
        return h.finish(StepOutcome.FAILED, "no way to copy the package to the host (no SMB stager or no local file)")
    cancel = RunCancel(hc.run.control)
    try:
        if found.exists:          # a complete file that does not match: not ours to keep
            stager.remove(hc.name, pkg.file_name)
        pushed = stager.push(hc.name, pkg.local_path, pkg.expected_sha256, cancel=cancel)
    except StageError as exc:
        if hc.run.control.stop.is_set():
            # The process is stopping: the step stays in flight and resume continues the
            # copy from the partial file's size.
            raise StopRequested(f"stopped while copying to {hc.name}") from None
        if cancel.is_set():
            return h.finish(StepOutcome.CANCELLED, f"cancelled during the copy ({exc})", host_path=pkg.host_path)
        return h.finish(StepOutcome.FAILED, str(exc), host_path=pkg.host_path)
    expected = pkg.expected_sha256 or pushed.sha256
    after = hc.api.stage_check(pkg.host_path, expected)
    if not (after.exists and after.matches):
        try:
            stager.remove(hc.name, pkg.file_name)
            removed = "removed it"
        except (StageError, OSError, ValueError) as exc:
            removed = f"could not remove it ({exc})"
        return h.finish(StepOutcome.FAILED, f"the copy on the host has SHA-256 {after.sha256}, expected {expected}: "
                                  f"{removed}; it will not be installed", sha256=after.sha256, expected_sha256=expected)
    how = "already there" if pushed.already_there else (
        f"resumed at {pushed.resumed_from:,} bytes" if pushed.resumed_from else "copied")
    return h.finish(StepOutcome.OK, f"{how}: {pushed.size:,} bytes, SHA-256 {after.sha256} verified on the host",
                    sha256=after.sha256, size=after.size, host_path=pkg.host_path, bytes_sent=pushed.bytes_sent,
                    resumed_from=pushed.resumed_from, already_there=pushed.already_there)


def _good(matches: bool | None, expected: str | None) -> bool:
    """Without an expected hash there is nothing to compare (the report shows the hash read)."""
    return bool(matches) if expected else True



