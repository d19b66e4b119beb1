"""Host passwords: in the OS keyring and nowhere else.

These are domain-admin rights to the virtualization estate, so they live only in the
platform's secret store (Windows Credential Manager, macOS Keychain, the Secret Service
on Linux) through ``keyring``, under the service name ``hvconsole`` with one entry per
host, keyed by the host's stable inventory id (renaming a host keeps its entry).

A password travels inside a :class:`Secret`, whose ``repr``/``str`` are masked, so that it
cannot leak into a log line, an exception message, a report or a crash dump's locals by
accident; code that really needs the text calls :meth:`Secret.reveal` at the last moment.

When no usable keyring exists (keyring's ``fail`` or ``null`` backend, a locked or absent
Secret Service, a plaintext file backend) :class:`KeyringUnavailableError` says so in
words an admin can act on, and the caller may offer a :class:`SessionOnlyStore`: the
passwords are then held in memory for this run only. There is never a silent fallback to
a file.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SERVICE = "hvconsole"
# A name no host id can take (ids are 32 hex digits): reading it proves the store answers.
_PROBE_KEY = "hvconsole-availability-check"

NO_KEYRING_HELP = (
    "Windows (Credential Manager) and macOS (Keychain) have one built in. On Linux hvconsole needs a "
    "Secret Service: GNOME Keyring or KWallet, unlocked (logging in to the desktop does that); file "
    "backends such as keyrings.alt are refused. On a box without a desktop: install gnome-keyring, "
    "start a D-Bus session with `dbus-run-session -- bash`, and in it unlock the keyring with "
    "`gnome-keyring-daemon --unlock` (type the keyring password, then Ctrl+D); run hvconsole in that "
    "shell. Details: docs/bad-input.md. Until then the window can keep passwords for its session only."
)


class Secret:
    """A password that does not show itself: ``repr``, ``str`` and f-strings print stars."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str):
            raise TypeError("a password must be text")
        if not value:
            raise ValueError("the password is empty")
        self._value = value

    def reveal(self) -> str:
        """The password text: call it only where the password is handed to the transport."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time: equality is used to decide whether a password changed.
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    # Unhashable on purpose (Python's idiom beside __eq__); typeshed types __hash__ as a method.
    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):  # no pickling into caches, queues or crash reports
        raise TypeError("a Secret cannot be pickled")


class CredentialStoreError(Exception):
    """A keyring operation failed; the message is for the admin and never holds a secret."""


class KeyringUnavailableError(CredentialStoreError):
    """There is no usable OS keyring on this PC right now."""

    def __init__(self, message: str, *, backend_name: str | None = None):
        self.backend_name = backend_name
        super().__init__(message)


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


def check_backend(backend: KeyringBackend) -> None:
    """Raise :class:`KeyringUnavailableError` unless ``backend`` can keep a secret safely."""
    name = _backend_name(backend)
    if name.startswith("keyring.backends.fail."):
        raise KeyringUnavailableError(
            "No OS keyring is available on this PC (keyring found no usable backend). " + NO_KEYRING_HELP,
            backend_name=name)
    if name.startswith("keyring.backends.null."):
        raise KeyringUnavailableError(
            "The OS keyring is switched off for this user (keyring is configured with its null backend, "
            "which forgets everything). Remove that setting from keyringrc.cfg. " + NO_KEYRING_HELP,
            backend_name=name)
    if "plaintext" in name.lower():
        raise KeyringUnavailableError(
            f"The configured keyring backend ({name}) writes passwords unencrypted to a file; hvconsole "
            "refuses to use it. Configure the platform's secret store instead. " + NO_KEYRING_HELP,
            backend_name=name)
    chained = getattr(backend, "backends", None)
    if name.startswith("keyring.backends.chainer.") and not chained:
        raise KeyringUnavailableError(
            "No OS keyring is available on this PC (no keyring backend to chain). " + NO_KEYRING_HELP,
            backend_name=name)


def _translate(exc: Exception, action: str, backend_name: str, secret: str | None) -> CredentialStoreError:
    """One admin-readable error for anything keyring or its backend raised. The backend's
    text is cut to one line and cleaned of the password, should a backend echo it."""
    text = str(exc).strip()
    if secret:
        text = text.replace(secret, "********")
    detail = text.splitlines()[0][:200] if text else type(exc).__name__
    if isinstance(exc, keyring.errors.NoKeyringError):
        return KeyringUnavailableError(f"No OS keyring is available ({detail}). " + NO_KEYRING_HELP,
                                       backend_name=backend_name)
    module = type(exc).__module__.lower()
    # A Secret Service with no unlocked collection asks for a password through a prompt;
    # without a desktop the prompt is dismissed at once (keyring reports an InitError then).
    if isinstance(exc, keyring.errors.KeyringLocked) or "prompt dismissed" in text.lower() \
            or type(exc).__name__ in ("LockedException", "PromptDismissedException"):
        return KeyringUnavailableError(
            "The OS keyring is locked and could not be unlocked (the unlock prompt was dismissed or "
            "cannot be shown here). Unlock it — logging in to the desktop session usually does — and "
            "try again. " + NO_KEYRING_HELP, backend_name=backend_name)
    if isinstance(exc, keyring.errors.InitError) or any(m in module for m in ("dbus", "secretstorage", "jeepney")):
        return KeyringUnavailableError(
            f"The OS keyring did not answer ({detail}). Is the Secret Service running in this "
            "session? " + NO_KEYRING_HELP, backend_name=backend_name)
    return CredentialStoreError(f"could not {action} in the OS keyring: {detail}")


class CredentialStore:
    """Passwords in the OS keyring, read on demand (never cached here). Satisfies
    :class:`hvconsole.core.inventory.PasswordStore`, as does :class:`SessionOnlyStore`."""

    kind = "keyring"

    def __init__(self, backend: KeyringBackend | None = None, *, service: str = SERVICE):
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._service = service
        self._name = _backend_name(self._backend)
        check_backend(self._backend)

    @property
    def description(self) -> str:
        return f"the OS keyring ({type(self._backend).__name__} from {type(self._backend).__module__})"

    def verify(self) -> None:
        """Prove the store answers (a locked Secret Service fails here, not mid-save)."""
        self._call("read from", self._backend.get_password, _PROBE_KEY)

    def save(self, host_id: str, password: Secret) -> None:
        """Create or update the host's entry."""
        if not isinstance(password, Secret):
            raise TypeError("pass the password as a Secret")
        self._call("save the password", self._backend.set_password, host_id, password.reveal())
        log.info("saved the password for host %s in %s", host_id, self._name)

    def get(self, host_id: str) -> Secret | None:
        value = self._call("read the password", self._backend.get_password, host_id)
        return Secret(value) if value else None

    def delete(self, host_id: str) -> bool:
        """Remove the host's entry; ``False`` if there was none."""
        if self.get(host_id) is None:
            return False
        try:
            self._call("delete the password", self._backend.delete_password, host_id)
        except CredentialStoreError:
            if self.get(host_id) is None:  # some backends raise when the entry went meanwhile
                return False
            raise
        log.info("deleted the password for host %s from %s", host_id, self._name)
        return True

    def _call(self, action: str, fn: Callable[..., _T], key: str, secret: str | None = None) -> _T:
        args = (self._service, key) if secret is None else (self._service, key, secret)
        try:
            return fn(*args)
        except keyring.errors.PasswordDeleteError:
            raise CredentialStoreError(f"could not {action}: the keyring has no entry for this host") from None
        except Exception as exc:  # any backend failure becomes one readable, secret-free error
            # `from None`: a backend's own exception may carry arguments we did not vet.
            raise _translate(exc, action, self._name, secret) from None


class SessionOnlyStore:
    """Passwords in this process's memory only, forgotten when hvconsole exits: the honest
    fallback when the OS keyring is unavailable (the UI says so where the password is typed)."""

    kind = "session"
    description = "this session only (forgotten when hvconsole closes)"

    def __init__(self, reason: str | None = None):
        self.reason = reason  # why the keyring could not be used, to show next to the fallback
        self._lock = threading.Lock()
        self._secrets: dict[str, Secret] = {}

    def save(self, host_id: str, password: Secret) -> None:
        if not isinstance(password, Secret):
            raise TypeError("pass the password as a Secret")
        with self._lock:
            self._secrets[host_id] = password

    def get(self, host_id: str) -> Secret | None:
        with self._lock:
            return self._secrets.get(host_id)

    def delete(self, host_id: str) -> bool:
        with self._lock:
            return self._secrets.pop(host_id, None) is not None


def open_store(*, allow_session_only: bool = False,
               backend: KeyringBackend | None = None) -> CredentialStore | SessionOnlyStore:
    """The keyring-backed store, checked to answer. Without a usable keyring: a
    :class:`SessionOnlyStore` carrying the reason if ``allow_session_only``, else raise
    :class:`KeyringUnavailableError`."""
    try:
        store = CredentialStore(backend)
        store.verify()
        return store
    except KeyringUnavailableError as exc:
        if not allow_session_only:
            raise
        log.warning("OS keyring unavailable, passwords kept for this session only: %s", exc)
        return SessionOnlyStore(reason=str(exc))
