"""The diagnostic bundle: one zip an admin attaches to a bug report.

Inside: the doctor's verdicts, the raw answers of the read-only scripts, that host's recent
snapshots as a trace (``hvconsole detect`` replays it), the console's log, the versions of
everything, and the host's inventory entry, with a README saying what each file is.

What never goes in: a password. The inventory holds none (passwords live in the keyring
only) and every file is scrubbed of the host's password before it is written, in case a
log line or an answer ever echoed it. With ``redact_names`` every host name, address, user
name, VM name and cluster name is replaced by a placeholder (``HOST-1``, ``VM-3``, ...),
the same placeholder for the same name everywhere in the bundle, so the bundle still shows
which VM is which. JSON files are redacted value by value (keys and structure stay, so the
trace still parses); text files by plain replacement.

No Qt and no network here: the window and ``hvconsole doctor --bundle`` both call
:func:`write_bundle` off the GUI thread after the doctor ran.
"""

from __future__ import annotations

import io
import json
import logging
import platform
import re
import sys
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from hvconsole.core.inventory import Host
from hvconsole.core.snapshot import Snapshot
from hvconsole.core.timeutil import format_time, utcnow

from .checks import DoctorReport

TRACE_WINDOW = timedelta(hours=1)
MAX_LOG_BYTES = 2 * 2**20            # per log file: its tail
MAX_CAPTURED_RECORDS = 5000
PACKAGES = ("hvconsole", "PySide6", "shiboken6", "pyqtgraph", "numpy", "pywinrm", "requests", "urllib3",
            "pyspnego", "requests-ntlm", "keyring", "platformdirs", "cryptography")

README = """hvconsole diagnostic bundle
===========================

Made by `hvconsole doctor {host} --bundle` (or "Save diagnostic bundle..." in the window)
at {made} UTC. Nothing in it was typed by hand; no password is in it.{redacted}

Files
-----
README.txt         this file
doctor.json        the doctor's checks in order: verdict (pass, fail, not-run, n/a), what was
                   found, the fix for a failure, how long each check took
doctor.txt         the same as the lines `hvconsole doctor` prints
answers/*.json     the raw answer (stdout) of each read-only script the doctor ran on the host:
                   doctor.ps1, collect.ps1, patch_preflight.ps1, patch_stage_check.ps1,
                   audit.ps1 (the health check)
trace.jsonl        the host's snapshots of the last hour (snapshot-v1, one JSON document per
                   line), newest last; replay it with `hvconsole detect trace.jsonl`
console.log        this console's log: the records of the doctor run, then the tail of the
                   log files in the console's log folder (if any)
versions.json      Python, the operating system, hvconsole and its libraries (Qt, pywinrm, ...)
inventory.json     the host's entry in the inventory (hosts.json); passwords are never stored
                   there, they live in the operating system's keyring
"""
REDACTED_NOTE = """

Names are redacted: every host name, address, user name, VM name and cluster name was
replaced by a placeholder (HOST-1, ADDRESS-1, USER-1, VM-1, CLUSTER-1, ...). The same name has
the same placeholder in every file, so the bundle still shows which VM is which."""


@dataclass
class Redactor:
    """Consistent placeholders for names; with ``enabled=False`` only secrets are scrubbed."""

    enabled: bool
    secrets: tuple[str, ...] = ()
    _names: dict[str, str] = field(default_factory=dict)       # casefolded name -> placeholder
    _counts: dict[str, int] = field(default_factory=dict)
    _pattern: re.Pattern[str] | None = None

    def add(self, kind: str, name: object) -> None:
        if not self.enabled or not isinstance(name, str) or not _identifying(name.strip()):
            return
        name = name.strip()
        for part in _name_parts(name):
            key = part.casefold()
            if key not in self._names:
                self._counts[kind] = self._counts.get(kind, 0) + 1
                self._names[key] = f"{kind}-{self._counts[kind]}"
        self._pattern = None

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret:
                value = value.replace(secret, "***")
        if not self.enabled or not self._names:
            return value
        if self._pattern is None:
            # Longest first: "HV01-SQL" is replaced before "HV01" could cut it in two.
            names = sorted(self._names, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
        return self._pattern.sub(lambda m: self._names[m.group(0).casefold()], value)

    def value(self, obj: object) -> object:
        """A JSON value with every string value redacted (keys are field names, kept so the
        documents still parse as their contracts say)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        return obj

    def names(self) -> dict[str, str]:
        return dict(self._names)


def _name_parts(name: str) -> list[str]:
    """A name and the parts of it that identify on their own: ``CORP\\jdoe`` -> itself,
    ``CORP``, ``jdoe``; ``jdoe@corp.example`` -> itself, ``jdoe``, ``corp.example``;
    ``hv01.corp.example`` -> itself and ``hv01``."""
    parts = [name]
    for sep in ("\\", "@"):
        if sep in name:
            parts += [p for p in name.split(sep) if _identifying(p)]
    if "." in name and not re.fullmatch(r"[\d.]+", name):
        first = name.split(".", 1)[0]
        if _identifying(first):
            parts.append(first)
    return parts


def _identifying(text: str) -> bool:
    """Long enough to be a name and not a number: replacing "20" or "ok" everywhere would
    break times and values, and tell nobody anything."""
    return (len(text) >= 3 and not re.fullmatch(r"[\d\W_]+", text)) or bool(re.fullmatch(r"[\d.:]{7,}", text))


# -- the console's log -------------------------------------------------------------------

class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._lock2 = threading.Lock()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:   # a bad log call must not break the doctor
            return
        with self._lock2:
            if len(self.lines) < MAX_CAPTURED_RECORDS:
                self.lines.append(line)


@contextmanager
def capture_log() -> Iterator[list[str]]:
    """Keep every ``hvconsole`` log record made inside the block (the lines list fills)."""
    handler = _Capture()
    logger = logging.getLogger("hvconsole")
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _log_files(log_dir: Path | None) -> str:
    if log_dir is None or not log_dir.is_dir():
        return ""
    out: list[str] = []
    for path in sorted(log_dir.glob("*.log*"))[:20]:
        size = 0
        try:
            with path.open("rb") as f:
                f.seek(0, io.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - MAX_LOG_BYTES))
                data = f.read().decode("utf-8", "replace")
        except OSError as exc:
            data = f"(cannot be read: {exc.strerror or exc})"
        out.append(f"===== {path.name} (last {min(size, MAX_LOG_BYTES)} bytes)\n{data}")
    return "\n".join(out)


# -- versions ----------------------------------------------------------------------------

def versions() -> dict[str, Any]:
    """Python, the OS and the installed libraries, without importing any of them (importing
    Qt would be slow and is not allowed outside the window)."""
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {"python": sys.version.split()[0], "python_build": platform.python_implementation(),
            "os": platform.platform(), "machine": platform.machine(), "frozen": bool(getattr(sys, "frozen", False)),
            "packages": found}


# -- the bundle --------------------------------------------------------------------------

@dataclass
class BundleInput:
    """Everything a bundle is made of; the caller gathers it (the CLI or the window)."""

    report: DoctorReport
    host: Host
    password: str | None = field(default=None, repr=False)
    snapshots: Iterable[Snapshot] = ()              # that host's recent snapshots (any order)
    log_lines: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    report_text: str = ""                           # the lines as the CLI prints them


def write_bundle(path: Path, data: BundleInput, *, redact_names: bool = False,
                 now: datetime | None = None) -> Path:
    """Write the zip to ``path`` (atomically: a temporary file renamed). Returns ``path``."""
    now = now or utcnow()
    redactor = Redactor(enabled=redact_names, secrets=tuple(s for s in (data.password,) if s))
    snapshots = _last_hour(data.host.name, data.snapshots, data.report)
    _learn_names(redactor, data, snapshots)

    files: dict[str, str] = {}
    files["README.txt"] = README.format(host=data.host.name if not redact_names else redactor.text(data.host.name),
                                        made=format_time(now),
                                        redacted=REDACTED_NOTE if redact_names else "")
    files["doctor.json"] = _json(redactor.value(data.report.to_dict()))
    files["doctor.txt"] = redactor.text(data.report_text or _plain_lines(data.report))
    for script, stdout in sorted(data.report.raw_answers.items()):
        files[f"answers/{script}.json"] = _answer(redactor, stdout)
    files["trace.jsonl"] = "".join(json.dumps(redactor.value(s.to_dict()), separators=(",", ":"),
                                              ensure_ascii=False) + "\n" for s in snapshots)
    log_text = "\n".join(data.log_lines)
    tail = _log_files(data.log_dir)
    files["console.log"] = redactor.text(log_text + ("\n" + tail if tail else "") + "\n")
    files["versions.json"] = _json(versions())
    files["inventory.json"] = _json(redactor.value({"hosts": [data.host.to_dict(include_id=False)],
                                                    "note": "passwords are kept in the OS keyring, never here"}))

    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                info = zipfile.ZipInfo(name, date_time=now.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text.encode("utf-8"))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)     # a full disk or a folder in the way leaves no half zip
        raise
    return path


def _last_hour(host: str, snapshots: Iterable[Snapshot], report: DoctorReport) -> list[Snapshot]:
    mine = [s for s in snapshots if s.host.casefold() == host.casefold()]
    if report.snapshot is not None:
        mine.append(report.snapshot)
    if not mine:
        return []
    mine.sort(key=lambda s: s.polled_at)
    newest = mine[-1].polled_at
    kept: list[Snapshot] = []
    for s in mine:      # in time order, one per polled_at (a trace may hold the doctor's poll already)
        if s.polled_at >= newest - TRACE_WINDOW and (not kept or s.polled_at > kept[-1].polled_at):
            kept.append(s)
    return kept


def _learn_names(redactor: Redactor, data: BundleInput, snapshots: list[Snapshot]) -> None:
    host = data.host
    redactor.add("HOST", host.name)
    redactor.add("ADDRESS", host.address)
    redactor.add("USER", host.username)
    if host.ca_bundle:
        redactor.add("PATH", host.ca_bundle)
    facts = getattr(getattr(data.report, "probe", None), "facts", None) or {}
    redactor.add("HOST", facts.get("computer_name"))
    redactor.add("USER", facts.get("user"))
    for snap in snapshots:
        redactor.add("HOST", snap.host)
        if snap.cluster is not None:
            redactor.add("CLUSTER", snap.cluster.name)
        for vm in snap.vms:
            redactor.add("VM", vm.name)
    for stdout in data.report.raw_answers.values():
        try:
            doc = json.loads(stdout)
        except (ValueError, RecursionError):
            continue
        _names_in_answer(redactor, doc)


def _names_in_answer(redactor: Redactor, doc: object) -> None:
    """VM, cluster, node and user names in a script's answer (whatever the script)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("vms", "other_nodes") and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        redactor.add("VM" if key == "vms" else "HOST", item.get("name"))
                    elif isinstance(item, str):
                        redactor.add("HOST", item)
            elif key in ("computer_name", "node", "owner_node") and isinstance(value, str):
                redactor.add("HOST", value)
            elif key == "user" and isinstance(value, str):
                redactor.add("USER", value)
            elif key == "cluster" and isinstance(value, dict):
                redactor.add("CLUSTER", value.get("name"))
            _names_in_answer(redactor, value)
    elif isinstance(doc, list):
        for item in doc:
            _names_in_answer(redactor, item)


def _answer(redactor: Redactor, stdout: str) -> str:
    try:
        return _json(redactor.value(json.loads(stdout)))
    except (ValueError, RecursionError):
        return redactor.text(stdout)


def _json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _plain_lines(report: DoctorReport) -> str:
    lines = []
    for r in report.results:
        lines.append(f"{r.verdict.value.upper():8} {r.title}: {r.detail}")
        if r.fix:
            lines.append(f"         fix: {r.fix}")
    return "\n".join(lines) + "\n"


def read_bundle(path: Path) -> Mapping[str, str]:
    """Every file of a bundle as text (for tests and for whoever reads one)."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
