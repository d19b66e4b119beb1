"""An inventory host and the collection of hosts (unique by name, case-insensitive).

A :class:`Host` holds everything needed to connect *except* the password, which lives
only in the OS keyring (``hvconsole/credentials.py``), keyed by the host's stable ``id`` so
that renaming a host never orphans its secret.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .fields import (
    FIELDS,
    SECRET_KEYS,
    DuplicateHostError,
    HostValidationError,
    InventoryError,
    Transport,
    UnknownHostError,
    is_loopback,
    new_host_id,
    parse_bool,
    shown_value,
    validate_address,
    validate_group,
    validate_name,
    validate_path,
    validate_poll_interval,
    validate_port,
    validate_username,
)

FORMAT_ID = "hvconsole.inventory"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Host:
    """One Hyper-V host as the admin entered it. Validated and normalised on creation."""

    name: str
    address: str
    username: str
    transport: Transport = Transport.NTLM
    port: int | None = None           # None = the transport's default (5985 / 5986)
    group: str | None = None          # free label, e.g. a patch ring: "pilot", "prod"
    ca_bundle: str | None = None      # PEM file of a private CA (TLS transports only)
    verify_tls: bool = True           # False = "do not validate" (warned everywhere)
    # Seconds between polls of this host; None = the window's default. Optional in the
    # file: version-1 files without it load unchanged (from_dict reads only known keys).
    poll_interval_s: int | None = None
    # Poll through the collect loop (docs/winrm.md, "The collect loop"): off until its
    # checks pass on the host. Optional in the file like poll_interval_s.
    collect_loop: bool = False
    id: str = field(default_factory=new_host_id)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("name", validate_name(self.name))
        put("address", validate_address(self.address))
        put("username", validate_username(self.username))
        try:
            if not isinstance(self.transport, str):
                raise ValueError
            put("transport", Transport(self.transport.strip().lower()))
        except ValueError:
            choices = ", ".join(t.value for t in Transport)
            raise HostValidationError("transport", f"{shown_value(self.transport)} is not one of {choices}") from None
        put("port", validate_port(self.port))
        put("group", validate_group(self.group))
        put("ca_bundle", validate_path(self.ca_bundle, "ca_bundle"))
        put("verify_tls", parse_bool(self.verify_tls, "verify_tls"))
        put("poll_interval_s", validate_poll_interval(self.poll_interval_s))
        put("collect_loop", parse_bool(self.collect_loop, "collect_loop"))
        if not isinstance(self.id, str) or not re.fullmatch(r"[0-9a-f]{32}", self.id):
            raise HostValidationError("id", "must be 32 lowercase hex digits")
        self._check_transport_rules()

    def _check_transport_rules(self) -> None:
        t = self.transport
        if t is Transport.PLAINTEXT and not is_loopback(self.address):
            raise HostValidationError(
                "transport", "plain HTTP with Basic sends the password readable by anyone on the network; it "
                             "is allowed only to this PC (the demo site). Use ntlm or https for a real host")
        if t is Transport.KERBEROS and "\\" not in self.username and "@" not in self.username:
            raise HostValidationError("username", "Kerberos needs a domain account: DOMAIN\\user or user@domain")
        if not t.uses_tls and (self.ca_bundle or not self.verify_tls):
            raise HostValidationError("transport", "a CA bundle or 'do not validate' applies only to https transports")
        if self.ca_bundle and not self.verify_tls:
            raise HostValidationError("ca_bundle", "a CA bundle and 'do not validate' contradict each other; pick one")

    @property
    def key(self) -> str:
        """The name as compared for uniqueness (case-insensitive, Unicode-aware)."""
        return self.name.casefold()

    @property
    def effective_port(self) -> int:
        return self.port or self.transport.default_port

    @property
    def url(self) -> str:
        scheme = "https" if self.transport.uses_tls else "http"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{host}:{self.effective_port}/wsman"

    @property
    def tls_unverified(self) -> bool:
        return self.transport.uses_tls and not self.verify_tls

    def with_changes(self, **changes: Any) -> Host:
        """A validated copy with some fields changed (the id stays)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, include_id: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id} if include_id else {}
        d.update({
            "name": self.name, "address": self.address, "port": self.port,
            "transport": self.transport.value, "username": self.username, "group": self.group,
            "ca_bundle": self.ca_bundle, "verify_tls": self.verify_tls,
        })
        if self.poll_interval_s is not None:    # absent = default: the file stays as before
            d["poll_interval_s"] = self.poll_interval_s
        if self.collect_loop:                   # absent = off, as above
            d["collect_loop"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, keep_id: bool = True) -> Host:
        if not isinstance(d, Mapping):
            raise HostValidationError("host", "must be an object")
        secret_keys = SECRET_KEYS & {str(k).strip().lower() for k in d}
        if secret_keys:
            raise HostValidationError(
                sorted(secret_keys)[0], "hvconsole never reads passwords from files; remove it and set the "
                                        "password with `hvconsole hosts edit NAME --password-stdin`")
        kwargs: dict[str, Any] = {k: d.get(k) for k in FIELDS if d.get(k) is not None}
        for required in ("name", "address", "username"):
            kwargs.setdefault(required, "")
        if keep_id and d.get("id") is not None:
            kwargs["id"] = d["id"]      # validated in __post_init__ (text of 32 hex digits)
        return cls(**kwargs)


class Inventory:
    """Hosts in the order the admin added them, unique by name (case-insensitive) and id."""

    def __init__(self, hosts: Iterable[Host] = ()):
        self._hosts: list[Host] = []
        for host in hosts:
            self.add(host)

    def __iter__(self) -> Iterator[Host]:
        return iter(tuple(self._hosts))

    def __len__(self) -> int:
        return len(self._hosts)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    @property
    def hosts(self) -> tuple[Host, ...]:
        return tuple(self._hosts)

    def find(self, name: str) -> Host | None:
        key = name.strip().casefold()
        return next((h for h in self._hosts if h.key == key), None)

    def get(self, name: str) -> Host:
        host = self.find(name)
        if host is None:
            known = ", ".join(h.name for h in self._hosts) or "none yet"
            raise UnknownHostError(f"no host named {shown_value(name, 64)} in the inventory (known: {known})")
        return host

    def add(self, host: Host) -> Host:
        self._check_unique(host, ignore_id=None)
        self._hosts.append(host)
        return host

    def add_all(self, hosts: Iterable[Host]) -> list[Host]:
        """Add several hosts, all or none (an import must not half-happen)."""
        staged = Inventory(self._hosts)
        added = [staged.add(h) for h in hosts]
        self._hosts = staged._hosts
        return added

    def update(self, name: str, new: Host) -> Host:
        """Replace the host called ``name`` by ``new`` (which may carry a new name)."""
        old = self.get(name)
        if new.id != old.id:
            raise InventoryError("an edited host must keep its id (use Host.with_changes)")
        self._check_unique(new, ignore_id=old.id)
        self._hosts[self._hosts.index(old)] = new
        return new

    def remove(self, name: str) -> Host:
        host = self.get(name)
        self._hosts.remove(host)
        return host

    def _check_unique(self, host: Host, *, ignore_id: str | None) -> None:
        for other in self._hosts:
            if other.id == ignore_id:
                continue
            if other.key == host.key:
                raise DuplicateHostError(f"a host named {other.name!r} already exists (names ignore case)")
            if other.id == host.id:
                raise DuplicateHostError(f"host id {host.id} is already used by {other.name!r}")

    def to_document(self, *, include_ids: bool = True) -> dict[str, Any]:
        return {"format": FORMAT_ID, "version": FORMAT_VERSION,
                "hosts": [h.to_dict(include_id=include_ids) for h in self._hosts]}

    @classmethod
    def from_document(cls, doc: object, *, keep_ids: bool = True) -> Inventory:
        """Parse the versioned document, all or nothing (an import): raise one
        :class:`InventoryError` naming every bad entry."""
        inventory, rejected = cls.from_document_lenient(doc, keep_ids=keep_ids)
        if rejected:
            raise InventoryError("; ".join(r.describe() for r in rejected))
        return inventory

    @classmethod
    def from_document_lenient(cls, doc: object, *, keep_ids: bool = True) -> tuple[Inventory, list[RejectedEntry]]:
        """The good entries of the document and, separately, each entry that could not be
        used and why: one bad entry must not cost the admin every other host. A document
        that is not an inventory at all raises :class:`InventoryError`; one written by a
        newer version raises :class:`NewerFormatError`."""
        if not isinstance(doc, dict):
            raise InventoryError("the file does not hold a JSON object")
        if doc.get("format") != FORMAT_ID:
            raise InventoryError(f"not an hvconsole inventory (format {shown_value(doc.get('format'), 40)})")
        version = doc.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise NewerFormatError(version)
        if version != FORMAT_VERSION or isinstance(version, bool):
            shown = str(version)[:20] if isinstance(version, int) else shown_value(version, 20)
            raise InventoryError(f"inventory version {shown} is not one this hvconsole reads "
                                 f"(it reads version {FORMAT_VERSION})")
        entries = doc.get("hosts")
        if not isinstance(entries, list):
            raise InventoryError("'hosts' must be a list")
        inventory = cls()
        rejected: list[RejectedEntry] = []
        for i, entry in enumerate(entries):
            try:
                inventory.add(Host.from_dict(entry, keep_id=keep_ids))
            except InventoryError as exc:
                rejected.append(RejectedEntry(i, entry, str(exc)))
        return inventory, rejected


class NewerFormatError(InventoryError):
    """The file was written by a newer hvconsole: this one neither uses nor changes it."""

    def __init__(self, version: int):
        self.version = version
        super().__init__(f"written by a newer hvconsole (inventory version {str(version)[:20]}; this one reads "
                         f"version {FORMAT_VERSION}); this version will not change it")


@dataclass(frozen=True, slots=True)
class RejectedEntry:
    """One entry of a document that could not be used: where it was, what it held, why."""

    index: int
    entry: Any
    problem: str

    @property
    def label(self) -> str:
        """``hosts[3] ('HV03')``: the position, and the name when it is printable text."""
        name = self.entry.get("name") if isinstance(self.entry, Mapping) else None
        if isinstance(name, str) and name.strip():
            return f"hosts[{self.index}] ({shown_value(name.strip(), 64)})"
        return f"hosts[{self.index}]"

    def describe(self) -> str:
        return f"{self.label}: {self.problem}"
