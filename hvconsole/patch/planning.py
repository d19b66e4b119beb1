"""The one planning service: from what the admin chose (a :class:`PlanDraft`, the wizard's
state object and what the CLI's options turn into) to a checked :class:`PatchPlan`, with
everything the admin must see before anything touches a host.

    draft = PlanDraft(kb="KB5061906", pilot=["HV01"], waves=[("production", ["HV02"])])
    plan = build_plan(draft, catalog)                      # PlanError: one clear sentence
    service = PlanningService(directory, catalog)
    snaps = service.survey(plan.hosts)
    review = service.review(plan, snaps)                   # problems ([] = ready), actions, downtime, notice

``build_plan`` needs no network. The service's methods are blocking and talk to the hosts
(read-only: nothing here changes a host); the GUI calls them off its thread, each takes a
cancel (a ``CancelToken`` or a ``threading.Event``). ``hvconsole patch plan|run|check``
and the wizard both go through here, so they refuse the same things with the same words.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PureWindowsPath

from hvconsole.core.catalog import Catalog, CatalogUpdate
from hvconsole.core.compliance import UNKNOWN, Compliance, assess
from hvconsole.core.enums import RUNNING_VM_STATES
from hvconsole.core.patch.notice import AffectedVm, compose_notice
from hvconsole.core.patch.plan import HealthGate, PackageSource, PatchPlan, PlanError, VmHandling, Wave, check_plan
from hvconsole.core.snapshot import Snapshot, unreachable
from hvconsole.core.timeutil import utcnow
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.smb_stage import host_path_for
from hvconsole.remote.target import CancelToken

from .context import EngineOptions
from .host_api import StageCheck
from .preflight import judge, planned_live_migrations
from .sites import HostDirectory
from .staging import STAGING_DIR
from .survey import compliance_table, poll_all

# Downtime estimates, in minutes (shown as estimates: the real figures depend on the
# host's disks, the VMs' memory churn and the update).
SAVE_MIN_PER_GB = 1.0          # Save-VM writes the VM's memory to disk, Start-VM reads it back
SHUTDOWN_BOOT_MIN = 3.0        # guest shutdown + boot
LIVE_MIGRATE_MIN = 0.0         # a live migration pauses the VM for seconds only
HOST_INSTALL_MIN = 20.0        # a cumulative update installed by DISM: typically 10-30 min
HASH_CHUNK = 1024 * 1024
Cancel = CancelToken | threading.Event | None      # the GUI's workers pass events


@dataclass
class PlanDraft:
    """What the admin chose, as plain data. Everything has a default the wizard can show."""

    kb: str | None = None
    pilot: list[str] = field(default_factory=list)
    waves: list[tuple[str, list[str]]] = field(default_factory=list)     # production waves: name, hosts
    parallel: int = 1
    stop_on_failure: bool = True
    package_kind: str = "on-host"            # on-host | smb-push
    package_location: str | None = None      # smb-push: local file; on-host: path on the host (None: the catalog's)
    sha256: str | None = None                # None: the catalog's
    vm_default: VmHandling = field(default_factory=VmHandling)
    vm_overrides: dict[str, VmHandling] = field(default_factory=dict)    # by VM id
    window_start: datetime | None = None
    soak_minutes: float = 30.0
    reboot_timeout_s: float = 1800.0
    confirm_promotion: bool = False
    contact: str = ""
    notice: str = ""

    @property
    def hosts(self) -> list[str]:
        return [*self.pilot, *(h for _, hosts in self.waves for h in hosts)]


@dataclass(frozen=True)
class PackageCheck:
    ok: bool
    message: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class HostPreflight:
    host: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    build: int | None = None
    ubr: int | None = None
    target: str | None = None
    compliant: bool = False
    error: str | None = None           # the host could not be asked (unreachable, bad answer)

    @property
    def blocked(self) -> bool:
        return bool(self.problems or self.error)


@dataclass(frozen=True)
class PlanReview:
    problems: list[str]                       # empty: the plan may start
    compliance: list[Compliance]
    affected_vms: list[AffectedVm]
    actions: dict[str, list[str]]             # host -> sentences in execution order
    downtime_minutes: dict[str, float]        # VM id -> minutes; "host:<name>" -> minutes
    notice: str
    run_actions: list[str] = field(default_factory=list)     # waves, soak, promotion: the run as a whole
    downtime_note: str = ("estimates: save/restore about 1 min per GB of assigned memory, shutdown and boot "
                          "about 3 min, live migration seconds, plus the host's install and reboot for VMs "
                          "that stay on it")

    @property
    def ready(self) -> bool:
        return not self.problems


# -- draft -> plan ----------------------------------------------------------------------------

def build_plan(draft: PlanDraft, catalog: Catalog) -> PatchPlan:
    """The plan the draft describes, or a :class:`PlanError` with one clear sentence."""
    kb = (draft.kb or "").strip().upper()
    if not kb:
        raise PlanError("choose the update to install")
    update = catalog.get(kb)
    if update is None:
        raise PlanError(f"{kb} is not in the update catalog (add it as a custom catalog entry)")
    pilot = _names(draft.pilot)
    if not pilot:
        raise PlanError("choose at least one pilot host (the test ring the update is tried on first)")
    if draft.parallel < 1:
        raise PlanError("hosts in parallel must be at least 1")
    if draft.soak_minutes < 0:
        raise PlanError("the soak cannot be negative")
    if draft.reboot_timeout_s <= 0:
        raise PlanError("the reboot timeout must be positive")
    waves = [Wave("pilot", tuple(pilot), 1)]
    for i, (name, hosts) in enumerate(draft.waves, start=1):
        names = _names(hosts)
        if names:          # an empty wave the wizard still shows is no wave
            waves.append(Wave((name or "").strip() or f"production-{i}", tuple(names), draft.parallel))
    return PatchPlan(kb=kb, waves=tuple(waves), package=_package(draft, update),
                     vm_default=draft.vm_default,
                     vm_overrides={str(k).lower(): v for k, v in draft.vm_overrides.items()},
                     window_start=draft.window_start, stop_on_failure=draft.stop_on_failure,
                     gate=HealthGate(soak_minutes=float(draft.soak_minutes)),
                     reboot_timeout_s=float(draft.reboot_timeout_s), notice=draft.notice,
                     confirm_promotion=draft.confirm_promotion)


def _names(hosts: Iterable[str]) -> list[str]:
    return [h.strip() for h in hosts if h and h.strip()]


def _package(draft: PlanDraft, update: CatalogUpdate) -> PackageSource:
    sha = (draft.sha256 or "").strip().lower() or None
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise PlanError("a SHA-256 is 64 hexadecimal characters")
    if draft.package_kind == "smb-push":
        if not draft.package_location:
            raise PlanError("choose the package file to push to the hosts")
        local = Path(draft.package_location).expanduser()
        refusal = local_package_problem(local)
        if refusal:
            raise PlanError(refusal)
        return PackageSource("smb-push", str(local.resolve()), sha)
    if draft.package_kind == "on-host":
        location = draft.package_location or (host_path_for(update.packages[0].file) if update.packages else None)
        if not location:
            raise PlanError(f"the catalog names no package for {update.kb}: give the path of the package on the hosts")
        return PackageSource("on-host", location, sha)
    raise PlanError(f"the package is either pushed over SMB (smb-push) or already on the hosts (on-host), "
                    f"not {draft.package_kind!r}")


def local_package_problem(local: Path) -> str | None:
    if not local.exists():
        return f"the package file {local} does not exist"
    if not local.is_file():
        return f"the package {local} is not a file"
    return None


# -- the service ------------------------------------------------------------------------------

class PlanningService:
    """Survey, package and pre-flight checks, and the review of a plan, against the hosts
    of ``directory``. Read-only towards the hosts."""

    def __init__(self, directory: HostDirectory, catalog: Catalog | None = None,
                 options: EngineOptions | None = None):
        if catalog is None:
            from .engine import load_site_catalog
            catalog = load_site_catalog()
        self.directory = directory
        self.catalog = catalog
        self.options = options or EngineOptions(speed=directory.speed)

    # -- hosts --------------------------------------------------------------------------------

    def survey(self, names: Iterable[str] | None = None, cancel: Cancel = None) -> dict[str, Snapshot]:
        """One fresh snapshot per host (all of the directory's by default). A name the
        directory does not know is an unreachable snapshot saying so."""
        token = _token(cancel)
        wanted = list(names) if names is not None else self.directory.names()
        known = {n.casefold(): n for n in self.directory.names()}
        out: dict[str, Snapshot] = {}
        for name in wanted:
            if name.casefold() not in known:
                out[name] = unreachable(name, utcnow(), "config",
                                        f"{name} is not in {self.directory.description or 'the host list'}")
        polled = poll_all(self.directory, [known[n.casefold()] for n in wanted if n.casefold() in known],
                          cancel=token)
        out.update(polled)
        return out

    def compliance(self, snaps: Mapping[str, Snapshot], kb: str | None = None) -> list[Compliance]:
        return compliance_table(dict(snaps), self.catalog, kb)

    def hosts_needing(self, kb: str, snaps: Mapping[str, Snapshot]) -> list[str]:
        update = self.catalog.get(kb.strip().upper())
        if update is None:
            return []
        return [host for host, snap in snaps.items() if assess(host, snap, update).needs_action]

    # -- package ------------------------------------------------------------------------------

    def check_package(self, draft: PlanDraft, progress: Callable[[int, int], None] | None = None,
                      cancel: Cancel = None) -> PackageCheck:
        """smb-push: the local file exists and its SHA-256 (computed here, ``progress(done,
        total)`` in bytes) is the catalog's. on-host: every host of the draft has the file
        with the catalog's SHA-256 (the host hashes it)."""
        token = _token(cancel)
        update = self.catalog.get((draft.kb or "").strip().upper())
        if update is None:
            return PackageCheck(False, "choose an update from the catalog first")
        try:
            source = _package(draft, update)
        except PlanError as exc:
            return PackageCheck(False, str(exc))
        expected = source.sha256 or _catalog_sha(update, _file_name(source))
        if source.kind == "smb-push":
            return self._check_local(Path(source.location or ""), expected, update, progress, token)
        return self._check_on_hosts(draft.hosts, source.location or "", expected, token)

    def _check_local(self, local: Path, expected: str | None, update: CatalogUpdate,
                     progress: Callable[[int, int], None] | None, token: CancelToken) -> PackageCheck:
        try:
            digest, size = hash_file(local, progress, token)
        except OSError as exc:
            return PackageCheck(False, f"cannot read {local}: {exc.strerror or exc}")
        if digest is None:
            return PackageCheck(False, "the package check was cancelled", None, size)
        if expected is None:
            return PackageCheck(True, f"{local.name}: {size:,} bytes, SHA-256 {digest}; the catalog lists no hash "
                                      f"for this file, so each host is checked against this one", digest, size)
        if digest != expected:
            return PackageCheck(False, f"{local.name} has SHA-256 {digest}, but {update.kb} in the catalog says "
                                       f"{expected}: this is not the package the catalog names", digest, size)
        return PackageCheck(True, f"{local.name}: {size:,} bytes, SHA-256 matches the catalog", digest, size)

    def _check_on_hosts(self, hosts: list[str], path: str, expected: str | None,
                        token: CancelToken) -> PackageCheck:
        if not hosts:
            return PackageCheck(False, "choose the hosts first: the package is checked on each of them")
        problem = _on_host_path_problem(path)
        if problem:
            return PackageCheck(False, problem)

        def ask(name: str) -> tuple[str, StageCheck | RemoteError]:
            if token.cancelled:
                return name, RemoteError("cancelled", "cancelled")
            try:
                api = self.directory.patch_host(name, cancel=token)
            except KeyError as exc:
                return name, RemoteError("config", str(exc.args[0]))
            try:
                return name, api.stage_check(path, expected)
            except RemoteError as err:
                return name, err
            finally:
                api.close()
        with ThreadPoolExecutor(max_workers=min(8, len(hosts)), thread_name_prefix="stage-check") as pool:
            answers = list(pool.map(ask, hosts))
        if token.cancelled:
            return PackageCheck(False, "the package check was cancelled")
        bad: list[str] = []
        hashes: set[str | None] = set()
        size: int | None = None
        for name, answer in answers:
            if isinstance(answer, RemoteError):
                bad.append(f"{name}: cannot check ({answer.message})")
            elif not answer.exists:
                bad.append(f"{name}: {path} is not there")
            elif expected and not answer.matches:
                bad.append(f"{name}: SHA-256 {answer.sha256}, the catalog says {expected}")
            else:
                hashes.add(answer.sha256)
                size = answer.size if size is None else size
        if bad:
            return PackageCheck(False, "the package is not ready on every host: " + "; ".join(bad))
        if len(hashes) > 1:      # only possible without an expected hash
            return PackageCheck(False, f"{path} differs between the hosts and the catalog lists no hash for it: "
                                       + ", ".join(sorted(str(h) for h in hashes)))
        digest = next(iter(hashes), None) or expected
        how = "matching the catalog's SHA-256" if expected else f"SHA-256 {digest} (the catalog lists none)"
        return PackageCheck(True, f"{path} is on all {len(hosts)} host(s), {how}", digest, size)

    # -- pre-flight ---------------------------------------------------------------------------

    def preflight(self, draft_or_plan: PlanDraft | PatchPlan, host: str, cancel: Cancel = None) -> HostPreflight:
        """The engine's pre-flight judgement of ``host`` (the shipped patch_preflight script
        and ``preflight.judge``), without writing anything anywhere."""
        token = _token(cancel)
        try:
            plan = build_plan(draft_or_plan, self.catalog) if isinstance(draft_or_plan, PlanDraft) else draft_or_plan
        except PlanError as exc:
            return HostPreflight(host, error=str(exc))
        update = self.catalog.get(plan.kb)
        if update is None:
            return HostPreflight(host, error=f"{plan.kb} is not in the update catalog")
        file_name, size_mb = _package_facts(plan, update)
        opts = self.options
        try:
            api = self.directory.patch_host(host, cancel=token)
        except KeyError as exc:
            return HostPreflight(host, error=str(exc.args[0]))
        try:
            snap = api.snapshot()
            doc = api.preflight(STAGING_DIR, file_name or None, opts.required_free_mb,
                                planned_live_migrations(plan, snap))
        except RemoteError as err:
            return HostPreflight(host, error=f"cannot check {host}: {err.message}")
        finally:
            api.close()
        v = judge(doc, update, required_free_mb=opts.required_free_mb, package_mb=size_mb,
                  backup_max_age_h=opts.backup_max_age_h, host_now=snap.host_time if snap.reachable else None)
        return HostPreflight(host, list(v.problems), list(v.warnings), v.build, v.ubr, v.target, v.compliant)

    # -- review -------------------------------------------------------------------------------

    def review(self, plan: PatchPlan | PlanDraft, snaps: Mapping[str, Snapshot], *, contact: str = "",
               check_compliance: bool = True) -> PlanReview:
        """Everything the admin must see before "Start run": what stops the plan, the
        compliance of its hosts, the VMs it touches, the actions per host in order, the
        estimated downtime and the stakeholder notice (``contact`` goes into it; a draft
        brings its own). Hosts missing from ``snaps`` are polled here. A draft that
        cannot be a plan is reviewed as that one problem."""
        if isinstance(plan, PlanDraft):
            contact = contact or plan.contact
            try:
                plan = build_plan(plan, self.catalog)
            except PlanError as exc:
                return PlanReview([str(exc)], [], [], {}, {}, "")
        update = self.catalog.get(plan.kb)
        if update is None:
            return PlanReview([f"{plan.kb} is not in the update catalog"], [], [], {}, {}, plan.notice)
        snaps = dict(snaps)
        missing = [h for h in plan.hosts if _get(snaps, h) is None]
        if missing:
            snaps.update(self.survey(missing))
        known = self.directory.names()
        rows = [assess(h, _get(snaps, h), update) for h in plan.hosts]
        problems: list[str] = []
        needs: dict[str, bool] = {}
        known_keys = {k.casefold() for k in known}
        for row in rows:
            if not check_compliance or row.host.casefold() not in known_keys:
                continue            # an unknown host: check_plan says so
            if row.status == UNKNOWN:
                problems.append(f"{row.host}: cannot tell whether it needs {plan.kb}: {row.reason}")
            else:
                needs[row.host] = row.needs_action
        problems += check_plan(plan, known, needs)
        for handling in (plan.vm_default, *plan.vm_overrides.values()):
            if handling.destination and handling.destination.casefold() not in known_keys:
                problems.append(f"live-migration destination {handling.destination} is not one of the hosts")
        if plan.package.kind == "smb-push" and plan.package.location:
            refusal = local_package_problem(Path(plan.package.location))
            if refusal:
                problems.append(refusal)
        plan_snaps = {h: s for h in plan.hosts if (s := _get(snaps, h)) is not None}
        affected = [AffectedVm(vm.id, vm.name, host, vm.state) for host, s in plan_snaps.items() for vm in s.vms]
        actions = {h: self._host_actions(plan, update, h, _get(snaps, h)) for h in plan.hosts}
        downtime = estimate_downtime(plan, plan_snaps)
        notice = plan.notice or compose_notice(plan, update.title, affected, contact)
        return PlanReview(_unique(problems), rows, affected, actions, downtime, notice, _run_actions(plan))

    def _host_actions(self, plan: PatchPlan, update: CatalogUpdate, host: str, snap: Snapshot | None) -> list[str]:
        file_name, _ = _package_facts(plan, update)
        host_path = (plan.package.location if plan.package.kind == "on-host" else host_path_for(file_name)) or "?"
        out = ["checks the host (administrator rights, free disk, vmms, cluster nodes, build)"]
        if plan.package.kind == "smb-push":
            out.append(f"copies {file_name} over SMB to {host_path} and checks its SHA-256 on the host")
        else:
            out.append(f"checks {host_path} on the host against its SHA-256")
        out.append("holds freeze alerts for the host (maintenance window)")
        out += _vm_sentences(plan, snap)
        out.append(f"installs {update.kb} from {host_path}")
        out.append(f"reboots (up to {plan.reboot_timeout_s / 60:.0f} min to come back; a second reboot if the update "
                   "asks for one)")
        out.append("verifies the running build reached the target")
        out.append("puts every VM back in its prior state")
        out.append("checks the host's health, then turns alerts on again")
        return out


# -- pieces -----------------------------------------------------------------------------------

def _vm_sentences(plan: PatchPlan, snap: Snapshot | None) -> list[str]:
    if snap is None or not snap.reachable:
        return ["moves or stops its running VMs as the plan says (the host did not answer: VMs unknown)"]
    node = snap.cluster is not None
    groups: dict[tuple[str, str | None], list[str]] = {}
    for vm in snap.vms:
        if vm.state not in RUNNING_VM_STATES or (node and vm.is_clustered):
            continue
        h = plan.handling_for(vm.id)
        groups.setdefault((h.action, h.destination), []).append(vm.name)
    verbs = {"save": "saves", "shutdown": "shuts down", "live-migrate": "live-migrates",
             "host-default": "leaves to the host's automatic stop action"}
    out = []
    for (action, dest), names in sorted(groups.items(), key=lambda kv: kv[0][0]):
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        where = f" to {dest}" if dest else ""
        out.append(f"{verbs[action]} {len(names)} VM{'s' if len(names) != 1 else ''}{where} ({shown})")
    clustered = [vm.name for vm in snap.vms if node and vm.is_clustered and vm.state in RUNNING_VM_STATES]
    if node:
        out.append(f"drains the cluster node (the cluster moves {len(clustered)} clustered VM(s))")
    if not out:
        out.append("no running VM to move or stop")
    return out


def estimate_downtime(plan: PatchPlan, snaps: Mapping[str, Snapshot]) -> dict[str, float]:
    """Minutes each running VM is unavailable, and each host is out of service
    (``host:<name>``). Estimates (see the constants above)."""
    out: dict[str, float] = {}
    reboot_min = _reboot_minutes(plan)
    for host, snap in snaps.items():
        host_min = HOST_INSTALL_MIN + reboot_min
        node = snap.cluster is not None
        for vm in snap.vms if snap.reachable else ():
            if vm.state not in RUNNING_VM_STATES:
                continue
            if node and vm.is_clustered:
                out[vm.id] = LIVE_MIGRATE_MIN      # the cluster drain live-migrates clustered VMs
                continue
            action = plan.handling_for(vm.id).action
            if action == "live-migrate":
                out[vm.id] = LIVE_MIGRATE_MIN
            elif action == "shutdown":
                out[vm.id] = SHUTDOWN_BOOT_MIN + HOST_INSTALL_MIN + reboot_min
                host_min += SHUTDOWN_BOOT_MIN / 2
            else:   # save, and the host's default stop action (Save unless changed)
                gb = (vm.memory_assigned_mb or 0.0) / 1024.0
                handling = max(1.0, SAVE_MIN_PER_GB * gb)
                out[vm.id] = handling + HOST_INSTALL_MIN + reboot_min
                host_min += handling
        out[f"host:{host}"] = round(host_min, 1)
    return {k: round(v, 1) for k, v in out.items()}


def _reboot_minutes(plan: PatchPlan) -> float:
    """A host's restart after a cumulative update: about 10 minutes, never more than the
    plan allows it."""
    return min(10.0, plan.reboot_timeout_s / 60.0)


def _run_actions(plan: PatchPlan) -> list[str]:
    out = [f"test ring: {', '.join(plan.pilot.hosts)}"]
    if len(plan.waves) > 1:
        out.append(f"soak: watches the test ring for {plan.gate.soak_minutes:g} min; production starts only if no "
                   "critical finding appears, heartbeats are back and every VM is in its prior state")
        if plan.confirm_promotion:
            out.append("then waits for you to promote the run to production (or halt it)")
    for w in plan.waves[1:]:
        out.append(f"wave {w.name}: {', '.join(w.hosts)} ({w.parallel} at a time)")
    out.append("stops at the first failure" if plan.stop_on_failure else "a failed host is left out; the others go on")
    return out


def hash_file(path: Path, progress: Callable[[int, int], None] | None = None,
              cancel: CancelToken | None = None) -> tuple[str | None, int]:
    """(SHA-256 hex, size) of a local file, reporting bytes done/total; (None, size) when
    cancelled."""
    size = path.stat().st_size
    h = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while True:
            if cancel is not None and cancel.cancelled:
                return None, size
            chunk = f.read(HASH_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, size)
    if progress is not None and size == 0:
        progress(0, 0)
    return h.hexdigest(), size


def _package_facts(plan: PatchPlan, update: CatalogUpdate) -> tuple[str, float | None]:
    """(file name, size in MB when known locally), without hashing anything."""
    src = plan.package
    if src.kind == "smb-push" and src.location:
        local = Path(src.location)
        size = local.stat().st_size / 2**20 if local.is_file() else None
        return local.name, size
    if src.kind == "on-host" and src.location:
        return PureWindowsPath(src.location).name, None
    return (update.packages[0].file if update.packages else ""), None


def _file_name(src: PackageSource) -> str:
    if not src.location:
        return ""
    return Path(src.location).name if src.kind == "smb-push" else PureWindowsPath(src.location).name


def _catalog_sha(update: CatalogUpdate, file_name: str) -> str | None:
    return next((p.sha256.lower() for p in update.packages if p.sha256 and p.file.lower() == file_name.lower()), None)


def _on_host_path_problem(path: str) -> str | None:
    loc = path.replace("/", "\\")
    if not loc.lower().startswith("c:\\hvconsole\\") or "\\..\\" in loc or loc.endswith("\\.."):
        return "a package already on the host must be under C:\\hvconsole\\ (e.g. C:\\hvconsole\\packages\\)"
    return None


def _get(snaps: Mapping[str, Snapshot], host: str) -> Snapshot | None:
    key = host.casefold()
    return next((s for h, s in snaps.items() if h.casefold() == key), None)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class _EventToken(CancelToken):
    """A ``threading.Event`` seen as a ``CancelToken`` (the GUI's workers use events)."""

    __slots__ = ()

    def __init__(self, event: threading.Event):
        super().__init__()      # the token's lock and listeners (CancelToken.on_cancel)
        self._event = event


def _token(cancel: CancelToken | threading.Event | None) -> CancelToken:
    if cancel is None:
        return CancelToken()
    if isinstance(cancel, CancelToken):
        return cancel
    return _EventToken(cancel)


def with_notice(plan: PatchPlan, review: PlanReview) -> PatchPlan:
    """The plan carrying the review's notice (what is stored with the run)."""
    return plan if plan.notice else replace(plan, notice=review.notice)


__all__ = ["PlanDraft", "PackageCheck", "HostPreflight", "PlanReview", "PlanningService", "build_plan",
           "estimate_downtime", "hash_file", "with_notice", "local_package_problem"]
