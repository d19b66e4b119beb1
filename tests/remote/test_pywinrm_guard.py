"""pywinrm's own session building (NTLM, Kerberos, CredSSP, client certificates) runs on our
transport, which is not a subclass of pywinrm's (remote/wsman_transport.py). The project
accepts any pywinrm from 0.5 on, so a pywinrm whose transport reads a setting or a helper
ours lacks, or whose private methods we call back take other arguments, must fail with a
message an admin can act on, not an AttributeError deep in a logon; and a pywinrm that
cannot be loaded at all (a broken install) says so."""

from __future__ import annotations

import secrets
import sys
import types
from typing import Any

import pytest
import requests
from scripted_host import ScriptedRunner, good_answer
from test_import_path import host_doc
from winrm.transport import Transport

from hvconsole.remote import errors, wsman_transport
from hvconsole.remote.collector import Collector
from hvconsole.remote.target import CancelToken
from hvconsole.remote.wsman_errors import WinRMError
from hvconsole.remote.wsman_transport import WsmanTransport

ENDPOINT = "http://127.0.0.1:5985/wsman"


def _ntlm() -> WsmanTransport:
    return WsmanTransport(ENDPOINT, username="u", password=secrets.token_urlsafe(8), auth_method="ntlm",
                          read_timeout_sec=30, ca_trust_path=None, proxy=None)     # as HostSession makes it


def _with_pywinrm(monkeypatch, transport_class: type) -> None:
    """Pretend the installed pywinrm's transport is ``transport_class``."""
    fake = types.SimpleNamespace(Transport=transport_class, HAVE_KERBEROS=True, HAVE_CREDSSP=True)
    monkeypatch.setattr(wsman_transport, "_import_pywinrm", lambda: fake)


class _NewSetting(Transport):
    """A pywinrm whose transport has a setting (set by its constructor) ours does not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_pool_size = 4

    def build_session(self) -> requests.Session:
        _ = self.connection_pool_size
        return super().build_session()


class _NewHelper(Transport):
    """A pywinrm whose build_session calls a helper method of its transport class."""

    def _auth_args(self) -> dict:
        return {}

    def build_session(self) -> requests.Session:
        self._auth_args()
        return super().build_session()


class _OtherCallback(Transport):
    """A pywinrm whose private request method (which its setup_encryption calls back on
    our transport) takes other arguments."""

    def _send_message_request(self, prepared_request: Any, message: Any) -> Any:  # type: ignore[override]
        raise AssertionError("never called")


@pytest.mark.parametrize("pywinrm_class", [_NewSetting, _NewHelper, _OtherCallback])
def test_a_pywinrm_whose_transport_does_not_fit_ours_is_named_not_crashed_into(monkeypatch, pywinrm_class) -> None:
    _with_pywinrm(monkeypatch, pywinrm_class)
    with pytest.raises(WinRMError) as caught:
        _ntlm().build_session()
    text = str(caught.value)
    assert "pywinrm" in text and "not supported" in text and "0.5" in text
    judged = errors.classify(caught.value, host="HV1", timeout_s=30)
    assert judged.kind == "protocol" and "not supported" in judged.message


def test_the_installed_pywinrm_fits() -> None:
    wsman_transport.check_pywinrm_fits(Transport)     # raises if not


class _Unrelated(Transport):
    """A newer pywinrm with a setting and methods its session building does not use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = 3

    def reset(self) -> None:
        self.retries = 0

    def send_message(self, message: Any, timeout: float | None = None) -> bytes:  # type: ignore[override]
        raise AssertionError("never called on ours")


def test_what_pywinrm_adds_beside_session_building_does_not_matter() -> None:
    wsman_transport.check_pywinrm_fits(_Unrelated)


def test_a_pywinrm_that_cannot_be_loaded_says_so(monkeypatch) -> None:
    # None in sys.modules: the import fails as a broken install's would (ImportError).
    monkeypatch.setitem(sys.modules, "winrm.transport", None)
    with pytest.raises(WinRMError) as caught:
        wsman_transport.pywinrm_transport()
    judged = errors.classify(caught.value, host="HV1", timeout_s=30)
    assert judged.kind == "protocol"
    assert "could not be loaded" in judged.message and "pywinrm" in judged.message


def test_an_ntlm_poll_still_answers_through_the_check(scripted_endpoint) -> None:
    _, target = scripted_endpoint(ScriptedRunner(lambda params: good_answer(host_doc())), auth="ntlm")
    collector = Collector(target, timeout_s=20)
    try:
        assert all(collector.poll().reachable for _ in range(2))
    finally:
        collector.close()


def test_a_cancel_while_pywinrm_is_being_imported_ends_the_poll_as_cancelled(monkeypatch, scripted_endpoint) -> None:
    # The import (on the poll worker, when the first NTLM session is built) cannot be cut
    # short; what follows it must see the cancel: no logon is attempted, the poll says so.
    _, target = scripted_endpoint(ScriptedRunner(lambda params: good_answer(host_doc())), auth="ntlm")
    real = wsman_transport._import_pywinrm
    token = CancelToken()

    def slow_import() -> Any:
        token.cancel()          # the admin cancels while the import is under way
        return real()

    monkeypatch.setattr(wsman_transport, "_import_pywinrm", slow_import)
    collector = Collector(target, timeout_s=20)
    try:
        snap = collector.poll(cancel=token)
        assert not snap.reachable and snap.error is not None
        assert snap.error.kind == "timeout" and "cancelled" in snap.error.message
    finally:
        collector.close()
