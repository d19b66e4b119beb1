"""Named patch scenarios: small sites on which a patch run meets one outcome each.

They are the patch engine's end-to-end and failure-path material (serve one with
``hvconsole-sim serve --site NAME``, or build it on a manual clock in a test). Every site
has two standalone hosts, HV01 (the pilot) and HV02 (production), unless the scenario says
otherwise, each with the same mix of VMs (running with Save and ShutDown stop actions, an
appliance without integration services, one Off, one Saved), and the package of
KB5061906 staged at :data:`PACKAGE_PATH` (genuine unless the scenario damages it); its
expected SHA-256 is :attr:`PatchScenario.sha256`. What each host should end as is in
``expect`` (:class:`PatchExpectation`).

They are kept apart from ``scenarios.SCENARIOS`` (the freeze detector's labelled set,
whose every entry must show a freeze or a look-alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hvconsole.core.guid import guid4

from ..model.clock import SimClock
from ..model.host import SimHost
from ..model.installer import EXIT_NOT_APPLICABLE, EXIT_OK, EXIT_REBOOT_REQUIRED, EXIT_SERVICING_FAILURE, InstallOutcome
from ..model.load import LoadProfile
from ..model.packages import corrupted, package_bytes, package_sha256
from ..model.site import SimSite
from ..model.vm import SimVM, VmMakeUp
from .freeze import SCENARIO_START
from .regression import start_regression

KB = "KB5061906"
PACKAGE_FILE = "windows10.0-kb5061906-x64.msu"
PACKAGE_DIR = "C:\\hvconsole\\packages"
PACKAGE_PATH = f"{PACKAGE_DIR}\\{PACKAGE_FILE}"
FIXED = "20348.3695"


@dataclass(frozen=True)
class PatchHost:
    name: str
    build: int = 20348
    ubr: int = 3692
    outcome: InstallOutcome | None = None     # None: the installer decides (3010 on a regressed host)
    staged: str = "genuine"                   # genuine | corrupt | none
    no_return: bool = False                   # the patch reboot never completes
    pending_fix: bool = False                 # KB5061906 installed, its reboot not taken yet
    cluster: str | None = None
    freezes: bool = False                     # the regression freezes a VM every few minutes


@dataclass(frozen=True)
class PatchExpectation:
    """How a host ends after a patch run that stops on the first failure."""

    host: str
    outcome: str                  # fixed | install-failed | not-applicable | no-return | hash-mismatch | untouched
    exit_code: int | None = None  # the install result's exit code (None: no install ran)
    reboots: int = 0              # reboots taken by the run
    build_after: str | None = None


@dataclass(frozen=True)
class PatchScenario:
    name: str
    description: str
    hosts: tuple[PatchHost, ...]
    expect: tuple[PatchExpectation, ...]
    kb: str = KB
    package_file: str = PACKAGE_FILE
    kind: str = "patch"

    @property
    def package_path(self) -> str:
        return f"{PACKAGE_DIR}\\{self.package_file}"

    @property
    def sha256(self) -> str:
        """The genuine package's SHA-256: what the plan and the catalog expect."""
        return package_sha256(self.package_file)

    def package(self) -> bytes:
        """The genuine package's bytes (write them to a file to push over SMB)."""
        return package_bytes(self.package_file)

    def build(self, seed: int = 1, start: datetime | None = None, *, clock: SimClock | None = None) -> SimSite:
        """The site on a manual clock at ``start`` (default SCENARIO_START), or on ``clock``."""
        site = SimSite(clock or SimClock.manual(start or SCENARIO_START), seed=seed, name=self.name)
        for i, spec in enumerate(self.hosts):
            host = site.add_host(SimHost(spec.name, build=spec.build, ubr=spec.ubr, cluster=spec.cluster,
                                         hotfixes=("KB5058385",) if spec.build == 20348 else ("KB5062553",),
                                         clock_skew_ms=(150, -90)[i % 2]))
            _vms(site, host)
            self._prepare(site, host, spec)
        return site

    def _prepare(self, site: SimSite, host: SimHost, spec: PatchHost) -> None:
        if spec.staged != "none":
            data = self.package()
            host.patch.stage(self.package_path, corrupted(data) if spec.staged == "corrupt" else data)
        if spec.outcome is not None:
            host.patch.set_outcome(self.kb, spec.outcome)
        host.patch.no_return = spec.no_return
        if spec.pending_fix:
            host.install_update(self.kb, ubr=3695, title=f"Update ({self.kb})")
        if spec.freezes:
            start_regression(site, host, 60.0)


def _vms(site: SimSite, host: SimHost) -> None:
    """The same mix on every host: what a drain and a restore have to deal with."""
    clustered = host.cluster is not None
    suffix = host.name[-2:]
    specs: tuple[tuple[str, VmMakeUp], ...] = (
        (f"APP-{suffix}", {"memory_mb": 8192, "automatic_stop_action": "Save"}),
        (f"SQL-{suffix}", {"memory_mb": 16384, "vcpus": 8, "automatic_stop_action": "ShutDown",
                           "load": LoadProfile(35, 15)}),
        (f"WEB-{suffix}", {"memory_mb": 4096, "dynamic_memory": True, "automatic_stop_action": "Save"}),
        (f"LB-APPLIANCE-{suffix}", {"guest": "appliance", "generation": 1, "automatic_stop_action": "TurnOff",
                                    "memory_mb": 2048, "load": LoadProfile(7, 4, 0.4)}),
        (f"TEST-{suffix}", {"state": "Off", "automatic_start_action": "Nothing"}),
        (f"ARCHIVE-{suffix}", {"state": "Saved"}),
    )
    # KB5061906 fixes confidential VMs (Microsoft's scope): on WS2022 the APP VM is one, so
    # the fix applies to every host of these sites.
    specs[0][1]["confidential"] = host.build == 20348
    for name, kw in specs:
        rng = site.rng("patch-vm", name)
        kw.setdefault("load", LoadProfile(18, 10))
        host.add_vm(SimVM(name, guid4(rng.getrandbits(128)), is_clustered=clustered,
                          uptime_s=rng.uniform(2, 20) * 86400, **kw))


def _fixed(host: str, code: int = EXIT_REBOOT_REQUIRED, reboots: int = 1) -> PatchExpectation:
    return PatchExpectation(host, "fixed", code, reboots, FIXED)


_UNTOUCHED = PatchExpectation("HV02", "untouched")

PATCH_SCENARIOS: dict[str, PatchScenario] = {s.name: s for s in (
    PatchScenario("patch-ok", "HV01 and HV02 on 20348.3692: KB5061906 installs (3010 on HV01, 0 on HV02), "
                  "one reboot each, both end on 20348.3695.",
                  (PatchHost("HV01"), PatchHost("HV02", outcome=InstallOutcome(EXIT_OK))),
                  (_fixed("HV01"), _fixed("HV02", EXIT_OK))),
    PatchScenario("patch-two-reboots", "HV01 needs two reboots: after the first it still runs 20348.3692 with a "
                  "reboot pending; the build changes with the second.",
                  (PatchHost("HV01", outcome=InstallOutcome(EXIT_REBOOT_REQUIRED, reboots=2)), PatchHost("HV02")),
                  (_fixed("HV01", reboots=2), _fixed("HV02"))),
    PatchScenario("patch-no-return", "HV01 installs the update but never comes back from its reboot "
                  "(WinRM refused for good); HV02 must not be touched.",
                  (PatchHost("HV01", no_return=True), PatchHost("HV02")),
                  (PatchExpectation("HV01", "no-return", EXIT_REBOOT_REQUIRED, 1), _UNTOUCHED)),
    PatchScenario("patch-install-fails", "The installer fails on HV01 with 0x800F0922 (servicing failure): "
                  "nothing changes there; HV02 must not be touched.",
                  (PatchHost("HV01", outcome=InstallOutcome(EXIT_SERVICING_FAILURE)), PatchHost("HV02")),
                  (PatchExpectation("HV01", "install-failed", EXIT_SERVICING_FAILURE), _UNTOUCHED)),
    PatchScenario("patch-not-applicable", "HV01 runs Windows Server 2025 (26100.4656): the WS2022 package is "
                  "not applicable (0x80240017).",
                  (PatchHost("HV01", build=26100, ubr=4656, outcome=InstallOutcome(EXIT_NOT_APPLICABLE)),
                   PatchHost("HV02")),
                  (PatchExpectation("HV01", "not-applicable", EXIT_NOT_APPLICABLE), _UNTOUCHED)),
    PatchScenario("patch-hash-mismatch", "The package staged on HV01 is damaged: its SHA-256 does not match "
                  "(installing it anyway fails with 0x80070570); HV02's copy is fine.",
                  (PatchHost("HV01", staged="corrupt"), PatchHost("HV02")),
                  (PatchExpectation("HV01", "hash-mismatch", None), _UNTOUCHED)),
    PatchScenario("patch-already-installed", "KB5061906 is already installed on HV01 but its reboot was never "
                  "taken (pending reboot, still 20348.3692); the installer finds it there (0x00240006 for "
                  "wusa, 0 through the DISM wrapper) and the reboot completes it.",
                  (PatchHost("HV01", pending_fix=True), PatchHost("HV02")),
                  (_fixed("HV01", EXIT_OK), _fixed("HV02"))),
    PatchScenario("patch-cluster", "HV01 and HV02 are the two nodes of cluster HVCL-PATCH on 20348.3692: each "
                  "node is drained (clustered VMs live-migrate to the other), patched, resumed.",
                  (PatchHost("HV01", cluster="HVCL-PATCH"), PatchHost("HV02", cluster="HVCL-PATCH")),
                  (_fixed("HV01"), _fixed("HV02"))),
    PatchScenario("patch-pilot-freeze", "HV01 and HV02 on 20348.3692 freeze a VM every few minutes (from 60 s "
                  "on); once a host runs 20348.3695 its freezes stop: the soak after the pilot sees none.",
                  (PatchHost("HV01", freezes=True), PatchHost("HV02", freezes=True)),
                  (_fixed("HV01"), _fixed("HV02"))),
)}
