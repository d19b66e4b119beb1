"""Pushing an update package to a host over SMB (the admin share), resumably.

pywinrm cannot move files (the command line caps near 8 KB), and a host pulling from a
file server inside a WinRM session hits the Kerberos double hop, so the console pushes the
.msu to ``\\\\host\\C$\\hvconsole\\packages`` itself (hyperv-notes §7). The copy goes to a
``.partial`` file first and is renamed when complete; an interrupted copy resumes from the
partial file's size. The local file is hashed before sending (and must match the catalog's
SHA-256 when it has one); the host-side hash check that follows is what proves the copy.

smbprotocol's calls block without a deadline once connected: a host that stops answering
mid-copy leaves a write waiting for smbprotocol's keep-alive (about 20 minutes). So the SMB
work runs on a worker thread while the caller watches it: a copy that makes no progress for
``stall_timeout_s`` (no SMB call completes, no block is written), or that is cancelled,
has its connection's socket shut down, which wakes the blocked call at once, and fails with
a :class:`StageError` that says how far it got. What was written stays in the ``.partial``
file, so the next attempt resumes from its size.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

from .target import CancelToken

log = logging.getLogger(__name__)
T = TypeVar("T")


class StopFlag(Protocol):
    """What threading.Event offers to stop a copy (the patch engine passes its own flag)."""

    def is_set(self) -> bool: ...


# What a caller may pass to stop a copy: anything with is_set() or a remote.target.CancelToken.
Cancel = StopFlag | CancelToken

STAGE_DIR = PureWindowsPath("hvconsole", "packages")
# NTSTATUS codes that mean "these credentials may not use the admin share".
_LOGON_FAILURE = 0xC000006D
_ACCESS_DENIED = 0xC0000022
_SHARING_VIOLATION = 0xC0000043
CHUNK = 1024 * 1024
# A copy that moves no data for this long has stalled. One block is 1 MB, so a link slower
# than about 35 KB/s would count as stalled too: far below any path a host is patched over.
STALL_TIMEOUT_S = 30.0
# How often the caller looks at the worker, and how long a cancelled copy may take to stop
# by itself at the next block (closing the file properly) before its socket is shut down.
_WATCH_SLICE_S = 0.05
_CANCEL_GRACE_S = 0.3
_ABANDON_WAIT_S = 0.5


class StageError(RuntimeError):
    """A staging failure, in words an admin can act on."""


@dataclass(frozen=True, slots=True)
class StageResult:
    unc_path: str          # \\server\C$\hvconsole\packages\file.msu
    host_path: str         # C:\hvconsole\packages\file.msu (what scripts on the host use)
    size: int
    sha256: str
    bytes_sent: int
    resumed_from: int      # bytes already on the host from an earlier attempt
    already_there: bool


def file_sha256(path: Path) -> str:
    """SHA-256 of a local file; a package of hundreds of MB is hashed once per run, not once
    per host (cached by path, size and modification time)."""
    st = path.stat()
    return _sha256_of(path.resolve(), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def host_path_for(file_name: str, drive: str = "C") -> str:
    return str(PureWindowsPath(f"{drive}:\\") / STAGE_DIR / file_name)


def push_package(local: Path, server: str, *, username: str, password: str, port: int = 445,
                 share: str = "C$", expected_sha256: str | None = None, timeout_s: float = 60.0,
                 stall_timeout_s: float = STALL_TIMEOUT_S, cancel: Cancel | None = None,
                 progress: Callable[[int, int], None] | None = None) -> StageResult:
    """Copy ``local`` to the host's staging folder. Raises StageError.

    ``timeout_s`` bounds the TCP connect; ``stall_timeout_s`` bounds any stretch without
    progress after that (the call then fails within it, plus well under a second); a set
    ``cancel`` (a ``threading.Event`` or a ``CancelToken``) ends the copy within a second.
    Both leave a resumable partial copy."""
    if not local.is_file():
        raise StageError(f"package file {local} does not exist")
    if "\\" in local.name or "/" in local.name:
        raise StageError("package file name must not contain path separators")
    size = local.stat().st_size
    digest = file_sha256(local)
    if expected_sha256 and digest != expected_sha256.lower():
        raise StageError(f"{local.name} does not match the catalog's SHA-256 (expected {expected_sha256.lower()}, "
                         f"file has {digest}): refusing to stage it")
    job = _Job(server, stall_timeout_s, cancel)
    return job.run(lambda: _copy(job, local, server, username=username, password=password, port=port,
                                 share=share, timeout_s=timeout_s, size=size, digest=digest,
                                 progress=progress),
                   what=lambda: f"copy to {server}",
                   where=lambda: f" after {job.done_bytes} of {size} bytes (it resumes from there next time)")


def remove_staged(server: str, file_name: str, *, username: str, password: str, port: int = 445,
                  share: str = "C$", stall_timeout_s: float = STALL_TIMEOUT_S) -> None:
    """Delete a staged package (and its partial copy), e.g. after a hash mismatch on the host."""
    job = _Job(server, stall_timeout_s, None)

    def remove() -> None:
        import smbclient

        with job.smb(share) as kw:
            smbclient.register_session(server, username=username, password=password, port=port, **kw)
            job.connected(kw)
            for name in (file_name, file_name + ".partial"):
                path = f"\\\\{server}\\{share}\\{STAGE_DIR}\\{name}"
                if _size_or_none(smbclient, path, job.kw(kw, port)) is not None:
                    job.step()
                    smbclient.remove(path, **job.kw(kw, port))
                job.step()

    job.run(remove, what=lambda: f"removing {file_name} from {server}", where=lambda: "")


def _copy(job: _Job, local: Path, server: str, *, username: str, password: str, port: int, share: str,
          timeout_s: float, size: int, digest: str, progress: Callable[[int, int], None] | None) -> StageResult:
    """The SMB part of :func:`push_package`, on the worker thread."""
    import smbclient

    folder = f"\\\\{server}\\{share}\\{STAGE_DIR}"
    final = f"{folder}\\{local.name}"
    partial = final + ".partial"
    with job.smb(share) as cache_kw:
        smbclient.register_session(server, username=username, password=password, port=port,
                                   connection_timeout=int(max(1, timeout_s)), **cache_kw)
        job.connected(cache_kw)
        kw = job.kw(cache_kw, port)
        smbclient.makedirs(folder, exist_ok=True, **kw)
        job.step()
        existing = _size_or_none(smbclient, final, kw)
        job.step()
        if existing == size:
            return StageResult(final, host_path_for(local.name), size, digest, 0, existing, already_there=True)
        offset = _size_or_none(smbclient, partial, kw) or 0
        job.step()
        if offset > size:
            offset = 0  # not ours or from another file version: start over
        job.done_bytes = offset
        sent = 0
        # Unbuffered: every byte counted as sent has been acknowledged by the host.
        dst = smbclient.open_file(partial, mode="ab" if offset else "wb", buffering=0, **kw)
        try:
            job.step()
            with local.open("rb") as src:
                if offset:
                    dst.seek(offset)
                    src.seek(offset)
                while True:
                    if job.cancel_requested:
                        raise StageError(f"copy to {server} cancelled after {offset + sent} of {size} bytes "
                                         "(it resumes from there next time)")
                    block = memoryview(src.read(CHUNK))
                    if not block:
                        break
                    while block:
                        written = dst.write(block)
                        sent += written
                        block = block[written:]
                        job.step(offset + sent)
                    if progress is not None:
                        progress(offset + sent, size)
        finally:
            _close_handle(dst)
        if existing is not None:
            smbclient.remove(final, **kw)
            job.step()
        smbclient.rename(partial, final, **kw)
        return StageResult(final, host_path_for(local.name), size, digest, sent, offset, already_there=False)


class _Job:
    """One SMB operation on a worker thread, watched for progress and cancel by the caller."""

    def __init__(self, server: str, stall_timeout_s: float, cancel: Cancel | None):
        if stall_timeout_s <= 0:
            raise ValueError("stall_timeout_s must be positive")
        self.server = server
        self.stall_timeout_s = float(stall_timeout_s)
        self.cancel = cancel
        self.done_bytes = 0
        self._last_progress = time.monotonic()
        self._abandoned = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._cache: dict | None = None

    # -- worker side ---------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        return self._abandoned.is_set() or self._cancel_set()

    def _cancel_set(self) -> bool:
        if self.cancel is None:
            return False
        if isinstance(self.cancel, CancelToken):
            return self.cancel.cancelled
        return bool(self.cancel.is_set())

    def step(self, done_bytes: int | None = None) -> None:
        """An SMB call completed: progress. Stops the worker if the caller gave up on it."""
        if done_bytes is not None:
            self.done_bytes = done_bytes
        self._last_progress = time.monotonic()
        if self._abandoned.is_set():
            raise StageError(f"copy to {self.server} abandoned")

    def connected(self, cache_kw: dict) -> None:
        with self._lock:
            self._connections.extend(cache_kw["connection_cache"].values())
        self.step()

    @staticmethod
    def kw(cache_kw: dict, port: int) -> dict:
        return {"port": port, **cache_kw}

    def smb(self, share: str):  # type: ignore[no-untyped-def]
        """A private smbclient connection cache for the worker, with every SMB failure turned
        into a StageError and the connections closed at the end."""
        return _SmbScope(self, share)

    # -- caller side ---------------------------------------------------------------------

    def run(self, work: Callable[[], T], *, what: Callable[[], str], where: Callable[[], str]) -> T:
        box: dict[str, Any] = {}

        def body() -> None:
            try:
                box["result"] = work()
            except BaseException as exc:  # handed to the caller
                box["error"] = exc

        worker = threading.Thread(target=body, name=f"hvc-smb-{self.server}", daemon=True)
        self._last_progress = time.monotonic()
        worker.start()
        why = None
        while True:
            worker.join(_WATCH_SLICE_S)
            if not worker.is_alive():
                break
            if self._cancel_set():
                worker.join(_CANCEL_GRACE_S)      # it may stop cleanly at the next block
                if not worker.is_alive():
                    break
                why = "cancelled"
                break
            if time.monotonic() - self._last_progress > self.stall_timeout_s:
                why = "stalled"
                break
        if why is not None:
            self._abandon()
            worker.join(_ABANDON_WAIT_S)
            if why == "cancelled":
                raise StageError(f"{what()} cancelled{where()}")
            raise StageError(f"{what()} stalled: {self.server} sent nothing for "
                             f"{self.stall_timeout_s:.0f} s{where()}; check the host and the network")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _abandon(self) -> None:
        """Give up on the worker: shut its sockets down so that a blocked SMB call returns
        (smbprotocol's receive thread then sees end of stream and fails every waiting
        request), and make it stop at its next step if it gets that far."""
        self._abandoned.set()
        with self._lock:
            connections = list(self._connections)
        if self._cache is not None:
            connections += [c for c in list(self._cache.values()) if c not in connections]
        for connection in connections:
            sock = getattr(getattr(connection, "transport", None), "_sock", None)
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _SmbScope:
    def __init__(self, job: _Job, share: str):
        self.job, self.share = job, share
        self.cache: dict = {}

    def __enter__(self) -> dict:
        self.job._cache = self.cache
        return {"connection_cache": self.cache}

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        import smbclient
        try:
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self.cache)
        except Exception:  # closing a dead connection may complain; nothing to keep
            log.debug("closing SMB connections to %s failed", self.job.server, exc_info=True)
        if exc is None or isinstance(exc, StageError):
            return False
        raise _stage_error(exc, self.job.server, self.share) from None


def _close_handle(raw: Any) -> None:
    """Close a remote file. On a connection that was shut down the close cannot be sent,
    and the handle went with the connection (the host drops a session's handles with it):
    say so to smbclient, which would otherwise warn about an unclosed handle forever."""
    try:
        raw.close()
    except Exception:
        log.debug("closing a remote file failed; its connection is gone", exc_info=True)
        fd = getattr(raw, "fd", None)
        if fd is not None and hasattr(fd, "_connected"):
            fd._connected = False


def _stage_error(exc: BaseException, server: str, share: str) -> BaseException:
    from smbprotocol.exceptions import SMBAuthenticationError, SMBException, SMBOSError, SMBResponseException

    if isinstance(exc, SMBAuthenticationError):
        return StageError(f"{server} rejected the credentials for the admin share {share}")
    if isinstance(exc, SMBResponseException):
        if exc.status in (_LOGON_FAILURE, _ACCESS_DENIED):
            return StageError(f"{server} rejected the credentials for the admin share {share} "
                              "(the account needs local administrator rights on the host)")
        if exc.status == _SHARING_VIOLATION:
            return StageError(f"the partial copy on {server} is still open from an interrupted attempt; "
                              "the host closes it when it notices the old connection is gone: try again shortly")
        return StageError(f"copy to {server} failed: {exc}")
    if isinstance(exc, SMBOSError):
        return StageError(f"copy to {server} failed: {exc.strerror or exc}")
    if isinstance(exc, (SMBException, OSError, ValueError)):
        return StageError(f"cannot reach the admin share \\\\{server}\\{share}: {exc}")
    return exc


def _size_or_none(smbclient, path: str, kw: dict) -> int | None:  # type: ignore[no-untyped-def]
    from smbprotocol.exceptions import SMBOSError

    try:
        return int(smbclient.stat(path, **kw).st_size)
    except SMBOSError:
        return None
