"""Package staging against a real Samba server on loopback: a full copy, a resumed partial
copy, an already-staged file, a hash mismatch (refused before anything is sent), wrong
credentials and cancellation."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading

import pytest

from hvconsole.remote.smb_stage import StageError, host_path_for, push_package, remove_staged
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


def test_cancel_leaves_a_resumable_partial(server, package):
    cancel = threading.Event()

    def progress(done, total):
        if done >= 2 * 1024 * 1024:
            cancel.set()

    with pytest.raises(StageError, match="cancelled"):
        push(server, package, cancel=cancel, progress=progress)
    assert staged(server, package.name + ".partial").stat().st_size == 2 * 1024 * 1024
    result = push(server, package)
    assert result.resumed_from == 2 * 1024 * 1024
    assert staged(server, package.name).read_bytes() == package.read_bytes()
