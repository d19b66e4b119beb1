"""Pushing an update package to a host over SMB (the admin share), resumably.

pywinrm cannot move files (the command line caps near 8 KB), and a host pulling from a
file server inside a WinRM session hits the Kerberos double hop, so the console pushes the
.msu to ``\\\\host\\C$\\hvconsole\\packages`` itself (hyperv-notes §7). The copy goes to a
``.partial`` file first and is renamed when complete; an interrupted copy resumes from the
partial file's size. The local file is hashed before sending (and must match the catalog's
SHA-256 when it has one); the host-side hash check that follows is what proves the copy.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Callable

STAGE_DIR = PureWindowsPath("hvconsole", "packages")
# NTSTATUS codes that mean "these credentials may not use the admin share".
_LOGON_FAILURE = 0xC000006D
_ACCESS_DENIED = 0xC0000022
CHUNK = 1024 * 1024


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
                 cancel: threading.Event | None = None,
                 progress: Callable[[int, int], None] | None = None) -> StageResult:
    """Copy ``local`` to the host's staging folder. Raises StageError."""
    import smbclient  # imported here: the rest of the console does not need SMB loaded
    from smbprotocol.exceptions import SMBAuthenticationError, SMBException, SMBOSError, SMBResponseException

    if not local.is_file():
        raise StageError(f"package file {local} does not exist")
    if "\\" in local.name or "/" in local.name:
        raise StageError("package file name must not contain path separators")
    size = local.stat().st_size
    digest = file_sha256(local)
    if expected_sha256 and digest != expected_sha256.lower():
        raise StageError(f"{local.name} does not match the catalog's SHA-256 (expected {expected_sha256.lower()}, "
                         f"file has {digest}): refusing to stage it")
    folder = f"\\\\{server}\\{share}\\{STAGE_DIR}"
    final = f"{folder}\\{local.name}"
    partial = final + ".partial"
    cache: dict = {}
    kw = {"port": port, "connection_cache": cache}
    try:
        smbclient.register_session(server, username=username, password=password, port=port,
                                   connection_timeout=int(max(1, timeout_s)), connection_cache=cache)
        smbclient.makedirs(folder, exist_ok=True, **kw)
        existing = _size_or_none(smbclient, final, kw)
        if existing == size:
            return StageResult(final, host_path_for(local.name), size, digest, 0, existing, already_there=True)
        offset = _size_or_none(smbclient, partial, kw) or 0
        if offset > size:
            offset = 0  # not ours or from another file version: start over
        sent = 0
        with local.open("rb") as src, smbclient.open_file(partial, mode="ab" if offset else "wb", **kw) as dst:
            if offset:
                dst.seek(offset)
                src.seek(offset)
            while True:
                if cancel is not None and cancel.is_set():
                    raise StageError(f"copy to {server} cancelled after {offset + sent} of {size} bytes "
                                     "(it resumes from there next time)")
                block = src.read(CHUNK)
                if not block:
                    break
                dst.write(block)
                sent += len(block)
                if progress is not None:
                    progress(offset + sent, size)
        if existing is not None:
            smbclient.remove(final, **kw)
        smbclient.rename(partial, final, **kw)
        return StageResult(final, host_path_for(local.name), size, digest, sent, offset, already_there=False)
    except SMBAuthenticationError:
        raise StageError(f"{server} rejected the credentials for the admin share {share}") from None
    except SMBResponseException as exc:
        if exc.status in (_LOGON_FAILURE, _ACCESS_DENIED):
            raise StageError(f"{server} rejected the credentials for the admin share {share} "
                             "(the account needs local administrator rights on the host)") from None
        raise StageError(f"copy to {server} failed: {exc}") from None
    except SMBOSError as exc:
        raise StageError(f"copy to {server} failed: {exc.strerror or exc}") from None
    except (SMBException, OSError, ValueError) as exc:
        raise StageError(f"cannot reach the admin share \\\\{server}\\{share}: {exc}") from None
    finally:
        smbclient.reset_connection_cache(connection_cache=cache)


def remove_staged(server: str, file_name: str, *, username: str, password: str, port: int = 445,
                  share: str = "C$") -> None:
    """Delete a staged package (and its partial copy), e.g. after a hash mismatch on the host."""
    import smbclient

    cache: dict = {}
    kw = {"port": port, "connection_cache": cache}
    try:
        smbclient.register_session(server, username=username, password=password, port=port, connection_cache=cache)
        for name in (file_name, file_name + ".partial"):
            path = f"\\\\{server}\\{share}\\{STAGE_DIR}\\{name}"
            if _size_or_none(smbclient, path, kw) is not None:
                smbclient.remove(path, **kw)
    finally:
        smbclient.reset_connection_cache(connection_cache=cache)


def _size_or_none(smbclient, path: str, kw: dict) -> int | None:  # type: ignore[no-untyped-def]
    from smbprotocol.exceptions import SMBOSError

    try:
        return int(smbclient.stat(path, **kw).st_size)
    except SMBOSError:
        return None
