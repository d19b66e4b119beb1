"""The demo site: four hosts and forty VMs of an ordinary mid-sized company.

HV01 and HV02 are standalone Windows Server 2022 hosts: HV01 still runs the regressed
build of KB5058385 (20348.3692), HV02 already has the out-of-band fix KB5061906
(20348.3695). HV03 and HV04 are a two-node Windows Server 2025 cluster. Within the first
minute a VM on HV01 freezes the way that regression froze VMs (Running, heartbeat lost, CPU
pegged, a Worker-Admin error); a second one follows a few minutes later, and from then on
HV01 freezes a VM every few minutes for as long as it *runs* the regressed build
(``regression``): patch it and reboot it, and the freezes stop. The fix's package is
already staged on HV01 (``C:\\hvconsole\\packages``), so a patch run can use it in place.
Benign look-alikes are there from the start: a build agent booting, appliances without
integration services, idle VMs, an application-critical heartbeat, a guest reboot. After
that the site lives on its own: background activity is scheduled in ten-minute blocks,
each drawn from (seed, block), so the demo never runs out and stays reproducible. What a
console does never changes those draws, and the background keeps its hands off hosts that
were rebooted or are installing and off VMs the console just started, saved or stopped
(``QUIET_S``): a scripted demo, such as a patch run at 60x, never fails by chance.

:func:`build_patch_demo_site` ("demo-patch") adds HV05, a second standalone host on the
regressed build, so that a pilot wave (HV01) and a production wave (HV05) can be run:
KB5061906 is then needed on two hosts, compliant on one, not applicable on two (WS2025).
"""

from __future__ import annotations

import random
from functools import partial

from hvconsole.core.guid import guid4

from ..model.clock import SimClock
from ..model.host import SimHost
from ..model.load import IDLE, LoadProfile
from ..model.packages import package_bytes
from ..model.site import SimSite
from ..model.vm import SimVM
from .regression import freeze_now, start_regression

FREEZE_VM = "SQL-PROD-02"      # freezes at FREEZE_AT_S on HV01
FREEZE_AT_S = 35.0
SECOND_FREEZE_VM = "WEB-02"
SECOND_FREEZE_AT_S = 300.0
REGRESSION_FROM_S = 600.0      # from then on HV01 (and HV05) freeze a VM every few minutes
BLOCK_S = 600.0
FIX_KB = "KB5061906"
FIX_PACKAGE = "windows10.0-kb5061906-x64.msu"
FIX_PACKAGE_PATH = "C:\\hvconsole\\packages\\" + FIX_PACKAGE


def _vm_table(text: str) -> tuple[tuple, ...]:
    """Rows of the VM tables below, typed: (name, host, role, guest, vcpus, memory MB,
    dynamic memory, initial state, stop action, backup hour or None)."""
    rows = []
    for line in text.strip().splitlines():
        if line.lstrip().startswith("#"):
            continue
        name, host, role, guest, vcpus, memory, kind, state, stop, backup = line.split()
        rows.append((name, host, role, guest, int(vcpus), int(memory), kind == "dynamic", state, stop,
                     None if backup == "-" else float(backup)))
    return tuple(rows)


_HOSTS = (
    # name, build, ubr, hotfixes, LPs, memory MB, cluster, clock skew ms, CLIXML stderr noise
    ("HV01", 20348, 3692, ("KB5012170", "KB5058385"), 48, 393216, None, 420, True),
    ("HV02", 20348, 3695, ("KB5012170", "KB5058385", "KB5061906"), 48, 393216, None, -180, False),
    ("HV03", 26100, 4656, ("KB5062553", "KB5064489"), 64, 524288, "HVCL01", 35, False),
    ("HV04", 26100, 4652, ("KB5062553",), 64, 524288, "HVCL01", -60, False),
)

# load profiles by role: base %, swing %, diurnal weight
_ROLE = {
    "dc": LoadProfile(4, 3, 0.6), "sql": LoadProfile(38, 18, 1.0), "exch": LoadProfile(22, 10, 1.0),
    "web": LoadProfile(15, 12, 1.0), "fs": LoadProfile(6, 5, 1.0), "rds": LoadProfile(30, 20, 1.0),
    "app": LoadProfile(20, 14, 1.0), "build": LoadProfile(55, 35, 0.3, period_s=40.0),
    "infra": LoadProfile(3, 2, 0.2), "idle": IDLE, "appliance": LoadProfile(7, 4, 0.4),
}

# The VMs: load profile by role (_ROLE), vCPUs, memory MB (dynamic or static), initial state,
# automatic stop action, local hour of the nightly backup (- for none).
_VMS = _vm_table("""
    # name            host  role       guest      CPU MB     memory   state    stop      backup hour
    DC01              HV01  dc         windows    2   4096   dynamic  Running  ShutDown  22
    SQL-PROD-01       HV01  sql        windows    8   32768  static   Running  ShutDown  23
    SQL-PROD-02       HV01  sql        windows    8   32768  static   Running  ShutDown  23.5
    EXCH-01           HV01  exch       windows    6   24576  static   Running  ShutDown  21
    WEB-01            HV01  web        windows    4   8192   dynamic  Running  Save      22.5
    WEB-02            HV01  web        windows    4   8192   dynamic  Running  Save      22.5
    FS01              HV01  fs         windows    4   8192   dynamic  Running  Save      20
    PRINT01           HV01  idle       windows    2   4096   dynamic  Running  Save      -
    BUILD-AGENT-01    HV01  build      windows    8   16384  static   Running  TurnOff   -
    LB-APPLIANCE-01   HV01  appliance  appliance  2   2048   static   Running  TurnOff   -
    DC02              HV02  dc         windows    2   4096   dynamic  Running  ShutDown  22
    SQL-DEV-01        HV02  sql        windows    4   16384  static   Running  Save      -
    EXCH-02           HV02  exch       windows    6   24576  static   Running  ShutDown  21
    WEB-03            HV02  web        windows    4   8192   dynamic  Running  Save      22.5
    RDS-01            HV02  rds        windows    8   32768  dynamic  Running  Save      1
    RDS-02            HV02  rds        windows    8   32768  dynamic  Running  Save      1
    FS-Büro-01        HV02  fs         windows    2   8192   dynamic  Running  Save      20
    BUILD-AGENT-02    HV02  build      windows    8   16384  static   Running  TurnOff   -
    BUILD-AGENT-03    HV02  build      windows    8   16384  static   Off      TurnOff   -
    MON-LINUX-01      HV02  infra      linux      2   4096   static   Running  ShutDown  3
    APP-ERP-01        HV03  app        windows    8   32768  static   Running  Save      23
    APP-ERP-02        HV03  app        windows    8   32768  static   Running  Save      23
    SQL-PROD-03       HV03  sql        windows    12  65536  static   Running  ShutDown  23.5
    WSUS01            HV03  infra      windows    2   8192   dynamic  Running  Save      2
    CA01              HV03  idle       windows    2   4096   static   Running  ShutDown  22
    JUMP01            HV03  infra      windows    2   4096   dynamic  Running  Save      -
    BACKUP01          HV03  infra      windows    4   16384  static   Running  ShutDown  -
    FW-APPLIANCE-01   HV03  appliance  appliance  4   4096   static   Running  TurnOff   -
    LINUX-DOCKER-01   HV03  web        linux      4   16384  static   Running  ShutDown  3
    TEST-WIN11-01     HV03  idle       windows    2   4096   dynamic  Saved    Save      -
    APP-CRM-01        HV04  app        windows    4   16384  static   Running  Save      23
    APP-CRM-02        HV04  app        windows    4   16384  static   Running  Save      23
    RDS-03            HV04  rds        windows    8   32768  dynamic  Running  Save      1
    WEB-04            HV04  web        windows    4   8192   dynamic  Running  Save      22.5
    KMS01             HV04  idle       windows    1   2048   dynamic  Running  Save      -
    SFTP-LINUX-01     HV04  infra      linux      2   2048   static   Running  ShutDown  3
    VPN-APPLIANCE-01  HV04  appliance  appliance  2   4096   static   Running  TurnOff   -
    HR-APP-01         HV04  app        windows    4   8192   dynamic  Running  Save      23
    LAB-DC-01         HV04  dc         windows    2   4096   dynamic  Off      ShutDown  -
    TEMPLATE-WS2022   HV04  idle       windows    2   4096   static   Off      ShutDown  -
""")


def build_demo_site(seed: int = 1, clock: SimClock | None = None) -> SimSite:
    """The demo site on ``clock`` (default: real time from now)."""
    site = SimSite(clock, seed=seed, name="demo")
    _add_hosts(site, _HOSTS, _VMS, site.rng("demo-layout"))
    site.vm("HR-APP-01").app_critical = True        # an application problem, not a freeze
    from .audit import configure_demo_health  # the health check's deliberate problems
    configure_demo_health(site)
    site.host("HV01").patch.stage(FIX_PACKAGE_PATH, package_bytes(FIX_PACKAGE))
    _script_first_minutes(site)
    start_regression(site, site.host("HV01"), REGRESSION_FROM_S)
    site.at(BLOCK_S, lambda t: _activity_block(site, 1))
    return site


# The second host on the regressed build in "demo-patch": as in _HOSTS, its VMs as in _VMS.
PATCH_HOST = ("HV05", 20348, 3692, ("KB5012170", "KB5058385"), 32, 262144, None, 260, False)
_PATCH_VMS = _vm_table("""
    # name            host  role       guest      CPU MB     memory   state    stop      backup hour
    DC03              HV05  dc         windows    2   4096   dynamic  Running  ShutDown  22
    SQL-REP-01        HV05  sql        windows    8   32768  static   Running  ShutDown  23.5
    APP-LEGACY-01     HV05  app        windows    4   8192   dynamic  Running  Save      23
    WEB-05            HV05  web        windows    4   8192   dynamic  Running  Save      22.5
    FS02              HV05  fs         windows    2   8192   dynamic  Saved    Save      20
    NAS-APPLIANCE-01  HV05  appliance  appliance  2   2048   static   Running  TurnOff   -
""")


def build_patch_demo_site(seed: int = 1, clock: SimClock | None = None) -> SimSite:
    """The demo site plus HV05, a second host on the regressed build (pilot + production)."""
    site = build_demo_site(seed, clock)
    site.name = "demo-patch"
    rng = site.rng("demo-patch-layout")
    _add_hosts(site, (PATCH_HOST,), _PATCH_VMS, rng)
    hv05 = site.host("HV05")
    hv05.patch.stage(FIX_PACKAGE_PATH, package_bytes(FIX_PACKAGE))
    start_regression(site, hv05, 240.0)
    return site


def _add_hosts(site: SimSite, hosts: tuple, vms: tuple, rng: random.Random) -> None:
    for name, build, ubr, hotfixes, lps, memory, cluster, skew, noisy in hosts:
        site.add_host(SimHost(name, build=build, ubr=ubr, hotfixes=hotfixes, logical_processors=lps,
                              memory_total_mb=memory, cluster=cluster, clock_skew_ms=skew,
                              clixml_progress=noisy, uptime_s=rng.uniform(3, 40) * 86400))
    for name, host, role, guest, vcpus, memory, dynamic, state, stop, backup in vms:
        clustered = site.host(host).cluster is not None
        site.host(host).add_vm(SimVM(
            name, guid4(rng.getrandbits(128)), vcpus=vcpus, memory_mb=memory,
            dynamic_memory=dynamic, generation=1 if guest == "appliance" else 2, guest=guest,
            load=_ROLE[role], automatic_start_action="Nothing" if state == "Off" else "StartIfRunning",
            automatic_stop_action=stop, backup_hour=backup, is_clustered=clustered, state=state,
            uptime_s=rng.uniform(0.5, 30) * 86400,
            # KB5061906 is Microsoft's fix for *confidential* VMs (windows-facts-checked): the
            # hosts on the regressed build (20348.3692) run theirs as confidential VMs.
            confidential=guest == "windows" and (site.host(host).build, site.host(host).ubr) == (20348, 3692)))


def _script_first_minutes(site: SimSite) -> None:
    vm = site.vm
    hv01 = site.host("HV01")
    site.at(10.0, lambda t: vm("BUILD-AGENT-03").start())                          # booting look-alike
    site.at(FREEZE_AT_S, lambda t: freeze_now(hv01, vm(FREEZE_VM)))
    site.at(150.0, lambda t: vm("WEB-03").guest_reboot())                          # patch night leftover
    site.at(SECOND_FREEZE_AT_S, lambda t: freeze_now(hv01, vm(SECOND_FREEZE_VM), cpu="flat"))
    site.at(420.0, lambda t: site.host("HV03").live_migrate(vm("JUMP01"), site.host("HV04")))


def _activity_block(site: SimSite, block: int) -> None:
    """Ordinary life for one ten-minute block: a reboot, build agents, a migration.

    Every draw has its own stream from (seed, block, what), taken whatever the site looks
    like, so that what a console does (a patch run saving and restarting VMs) can never
    change what the site does on its own or when. When its time comes, a change is skipped
    if it would meddle with the console's work (:func:`_left_alone`): a scripted demo must
    not fail by chance because the site turned off a VM the console had just restarted."""
    start = block * BLOCK_S

    def rng(what: str) -> random.Random:
        return site.rng("activity", block, what)

    pick = rng("reboot")
    if pick.random() < 0.5:
        when, index = start + pick.uniform(0, BLOCK_S), pick.random()
        site.at(when, lambda t: _guest_reboot_one(site, t, index))
    for agent in ("BUILD-AGENT-01", "BUILD-AGENT-02", "BUILD-AGENT-03"):
        draw = rng(agent)
        if draw.random() < 0.3:
            when = start + draw.uniform(0, BLOCK_S)
            site.at(when, partial(_toggle, site, name=agent))
    draw = rng("migrate")
    if draw.random() < 0.3:
        when, index = start + draw.uniform(0, BLOCK_S), draw.random()
        site.at(when, lambda t: _migrate_one(site, t, index))
    site.at(start + BLOCK_S, lambda t: _activity_block(site, block + 1))


# How long the site keeps its hands off a VM the console started, saved or stopped, and off
# a host that was rebooted: as long as a patch run's soak watches it (30 min by default).
QUIET_S = 1800.0
# A host a patch run has worked on (drain, install, reboot, restore) is left alone for this
# long after the run's last change: a soak longer than QUIET_S, production waves and the
# post-patch watch all judge "VMs in their prior state" there.
PATCH_QUIET_S = 6 * 3600.0


def _left_alone(host: SimHost, vm: SimVM, t: float) -> bool:
    """Whether background activity must not touch ``vm`` (running on ``host``) now: its host
    is down, was rebooted or is installing (a patch run is at work), or the VM itself was
    started, saved or stopped within QUIET_S (the console acted on it), or it is migrating."""
    if host.power != "up" or t - host.last_boot_t < QUIET_S or host.patch.installer_running():
        return True
    if host.patch.worked_t is not None and t - host.patch.worked_t < PATCH_QUIET_S:
        return True
    if vm.migrating or vm.state not in ("Running", "Off"):
        return True
    return vm.transition_end_t is not None and t - vm.transition_end_t < QUIET_S


def _guest_reboot_one(site: SimSite, t: float, index: float) -> None:
    # Drawn from a fixed list (not from the VMs running now), so the draw never depends
    # on what the console did; a VM that is not running or must be left alone is skipped.
    names = sorted(v.name for h in site.hosts.values() for v in h.vms
                   if v.guest == "windows" and v.name not in (FREEZE_VM, SECOND_FREEZE_VM))
    if not names:
        return
    host, vm = site.find_vm(names[int(index * len(names)) % len(names)])
    if vm.state == "Running" and not vm.is_hung and not _left_alone(host, vm, t):
        vm.guest_reboot()


def _toggle(site: SimSite, t: float, name: str) -> None:
    host, vm = site.find_vm(name)
    if _left_alone(host, vm, t):
        return
    if vm.state == "Running":
        vm.shutdown() or vm.turn_off()
    elif vm.state == "Off":
        vm.start()


def _migrate_one(site: SimSite, t: float, pick: float) -> None:
    nodes = [h for h in site.hosts.values() if h.cluster is not None and h.power == "up"]
    if len(nodes) < 2:
        return
    source = max(nodes, key=lambda h: len(h.vms))
    dest = next(h for h in nodes if h is not source)
    if (t - dest.last_boot_t < QUIET_S or dest.patch.installer_running()
            or (dest.patch.worked_t is not None and t - dest.patch.worked_t < PATCH_QUIET_S)):
        return
    movers = [v for v in source.vms if v.is_clustered and v.state == "Running" and not v.migrating
              and not _left_alone(source, v, t)]
    if movers:
        source.live_migrate(movers[int(pick * len(movers)) % len(movers)], dest)
