"""Package staging against a real Samba server on loopback: a full copy, a resumed partial
copy, an already-staged file, a hash mismatch (refused before anything is sent), wrong
credentials, cancellation, and a server that stops answering mid-copy (SIGSTOP): the copy
fails within its stall timeout, or at once when cancelled, and resumes afterwards."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time

import pytest

from hvconsole.remote.smb_stage import StageError, host_path_for, push_package, remove_staged
from hvconsole.remote.target import CancelToken
from tests.support import samba

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from samba.serve_for_tests(tmp_path_factory)


@pytest.fixture()
def package(tmp_path):
    # A fresh name per test: the share outlives each test.
    path = tmp_path / f"windows10.0-kb5061906-x64-{secrets.token_hex(4)}.msu"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    return path


def staged(server, name):
    return server.share_dir / "hvconsole" / "packages" / name


def push(server, package, **kw):
    return push_package(package, "127.0.0.1", username=server.user, password=server.password, port=server.port, **kw)


def test_full_copy_then_already_there(server, package):
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    result = push(server, package, expected_sha256=digest.upper())
    assert result.bytes_sent == package.stat().st_size and not result.already_there
    assert result.host_path == host_path_for(package.name) == "C:\\hvconsole\\packages\\" + package.name
    assert staged(server, package.name).read_bytes() == package.read_bytes()
    again = push(server, package)
    assert again.already_there and again.bytes_sent == 0
    remove_staged("127.0.0.1", package.name, username=server.user, password=server.password, port=server.port)
    assert not staged(server, package.name).exists()


def test_resume_from_partial_copy(server, package):
    data = package.read_bytes()
    part = staged(server, package.name + ".partial")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(data[:1_000_000])
    result = push(server, package)
    assert result.resumed_from == 1_000_000
    assert result.bytes_sent == len(data) - 1_000_000
    assert staged(server, package.name).read_bytes() == data
    assert not part.exists()


def test_hash_mismatch_is_refused_before_sending(server, package):
    with pytest.raises(StageError, match="does not match the catalog's SHA-256"):
        push(server, package, expected_sha256="0" * 64)
    assert not staged(server, package.name).exists()


def test_wrong_password(server, package):
    with pytest.raises(StageError, match="rejected the credentials") as info:
        wrong = server.password[::-1] + "x"   # made up from the real one: never a literal
        push_package(package, "127.0.0.1", username=server.user, password=wrong, port=server.port)
    assert server.password not in str(info.value)


@pytest.mark.parametrize("make_cancel, stop", [
    (threading.Event, lambda c: c.set()),
    (CancelToken, lambda c: c.cancel()),     # the patch engine's token works as well
])
def test_cancel_leaves_a_resumable_partial(server, package, make_cancel, stop):
    cancel = make_cancel()

    def progress(done, total):
        if done >= 2 * 1024 * 1024:
            stop(cancel)

    with pytest.raises(StageError, match="cancelled"):
        push(server, package, cancel=cancel, progress=progress)
    assert staged(server, package.name + ".partial").stat().st_size == 2 * 1024 * 1024
    result = push(server, package)
    assert result.resumed_from == 2 * 1024 * 1024
    assert staged(server, package.name).read_bytes() == package.read_bytes()


# -- a server that stops answering mid-copy (issue 10, item 2) --------------------------

STALL_S = 3.0
WITHIN_S = 1.0   # the bound on top of the stall timeout, and for a cancel


@pytest.fixture()
def big_package(tmp_path):
    path = tmp_path / f"windows10.0-kb5063877-x64-{secrets.token_hex(4)}.msu"
    path.write_bytes(os.urandom(12 * 1024 * 1024 + 7))
    return path


class PauseAt:
    """A progress callback that stops the whole Samba server once ``at`` bytes are written,
    remembering when, and which smbd processes served the copy."""

    def __init__(self, server, at: int, before: set[int]):
        self.server, self.at, self.before = server, at, before
        self.paused_at: float | None = None
        self.copy_processes: set[int] = set()
        self.event = threading.Event()

    def __call__(self, done: int, total: int) -> None:
        if done >= self.at and self.paused_at is None:
            self.copy_processes = self.server.processes() - self.before
            self.server.pause()
            self.paused_at = time.monotonic()
            self.event.set()

    def resume_and_settle(self) -> None:
        """Let Samba run again and wait until the abandoned connection's process has gone
        (it holds the partial file open until then)."""
        self.server.resume()
        assert self.server.wait_gone(self.copy_processes), "the stalled connection's smbd never went away"


def test_a_stalled_copy_fails_within_its_stall_timeout_and_resumes(server, big_package):
    pause = PauseAt(server, 4 * 1024 * 1024, server.processes())
    try:
        with pytest.raises(StageError) as info:
            push(server, big_package, stall_timeout_s=STALL_S, progress=pause)
        ended = time.monotonic()
    finally:
        pause.resume_and_settle()
    assert pause.paused_at is not None
    waited = ended - pause.paused_at
    # (progress is stamped just before the callback that pauses the server: a hair earlier)
    assert STALL_S - 0.2 <= waited < STALL_S + WITHIN_S, f"the stalled copy ended after {waited:.2f} s"
    message = str(info.value)
    assert "stalled" in message and "sent nothing for 3 s" in message and "resumes" in message
    assert server.password not in message
    kept = staged(server, big_package.name + ".partial").stat().st_size
    assert kept >= 4 * 1024 * 1024
    result = push(server, big_package)
    assert result.resumed_from == kept and result.bytes_sent == big_package.stat().st_size - kept
    assert staged(server, big_package.name).read_bytes() == big_package.read_bytes()


def test_a_stalled_copy_is_cancelled_within_a_second(server, big_package):
    pause = PauseAt(server, 3 * 1024 * 1024, server.processes())
    cancel = threading.Event()
    box: dict = {}

    def copy() -> None:
        try:
            push(server, big_package, stall_timeout_s=120, cancel=cancel, progress=pause)
        except StageError as exc:
            box["error"] = exc
        box["ended"] = time.monotonic()

    worker = threading.Thread(target=copy, daemon=True)
    worker.start()
    try:
        assert pause.event.wait(60), "the copy never reached the pause point"
        cancelled_at = time.monotonic()
        cancel.set()
        worker.join(30)
    finally:
        pause.resume_and_settle()
    assert not worker.is_alive()
    took = box["ended"] - cancelled_at
    assert took < WITHIN_S, f"the cancel took {took:.2f} s"
    assert "cancelled" in str(box["error"]) and "resumes" in str(box["error"])
    result = push(server, big_package)
    assert result.resumed_from >= 3 * 1024 * 1024
    assert staged(server, big_package.name).read_bytes() == big_package.read_bytes()


def test_a_server_that_never_answers_the_session_set_up_is_a_stall(server, package):
    """Stopped before the copy even starts (after TCP accept): the same stall error, in time."""
    server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StageError, match="stalled") as info:
            push(server, package, stall_timeout_s=STALL_S)
        took = time.monotonic() - started
    finally:
        server.resume()
    assert took < STALL_S + WITHIN_S, f"took {took:.2f} s"
    assert "after 0 of" in str(info.value)
