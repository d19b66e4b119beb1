"""The recovery steps, and which one may come next: evidence first, then the least harmful
action that can still work (docs/recovery.md "Why this order").

``offers(obs, history)`` answers, for every step, whether it is allowed now and why (or
why not), from a fresh host read and what this incident already tried. The engine, the
dialog and the CLI all ask it; the engine refuses anything it does not allow, so no
front end can skip a gentler step or a confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .observe import RESTING, RUNNING, Observation

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

CAPTURE, NMI, SHUTDOWN, TURN_OFF, RESET, END_WORKER, START, VERIFY, RESTART_VMMS = (
    "capture", "nmi", "shutdown", "turn_off", "reset", "end_worker", "start", "verify", "restart_vmms")
STEPS = (CAPTURE, NMI, SHUTDOWN, TURN_OFF, RESET, END_WORKER, START, VERIFY, RESTART_VMMS)
# Steps that can lose data or interrupt a host service: the VM's name (the host's name
# for the VMMS restart) must be typed to confirm each one.
HARD_STEPS = frozenset({NMI, TURN_OFF, RESET, END_WORKER, RESTART_VMMS})
# Steps that change something on the host (journalled with intent before, outcome after).
ACTING_STEPS = frozenset({NMI, SHUTDOWN, TURN_OFF, RESET, END_WORKER, START, RESTART_VMMS})

TITLES = {
    CAPTURE: "Capture evidence",
    NMI: "Crash dump (inject NMI)",
    SHUTDOWN: "Shut down the guest",
    TURN_OFF: "Turn off",
    RESET: "Reset",
    END_WORKER: "End the VM's worker process",
    START: "Start",
    VERIFY: "Verify",
    RESTART_VMMS: "Restart the VMMS service",
}

RISKS = {
    NMI: ("A Windows guest set to bugcheck on NMI (CrashDumpEnabled and NMICrashDump) stops at once, writes "
          "a memory dump and restarts: unsaved data in the guest is lost. A guest not set up for it ignores "
          "the interrupt and nothing is captured."),
    TURN_OFF: ("Turning off is pulling the power cord: whatever the guest had not written to disk is lost, "
               "and its file systems and databases go through crash recovery at the next start."),
    RESET: ("Reset is pressing the reset button: the same data loss as Turn off, and the guest boots at once."),
    END_WORKER: ("Ending the worker process (vmwp.exe) tears the VM down the hard way, like Turn off, and is "
                 "Microsoft's last resort for a VM that no longer acts on Turn off. Only this VM's worker is "
                 "ended (found by its VM id)."),
    RESTART_VMMS: ("Restarting the Virtual Machine Management service: running VMs keep running (each runs in "
                   "its own worker process), but for a minute nothing can manage them, back-ups and live "
                   "migrations in progress on this host fail, and a cluster may see the host's VMs as unmonitored."),
}

OK, FAILED, SKIPPED, CANCELLED, INTERRUPTED = "ok", "failed", "skipped", "cancelled", "interrupted"
OUTCOMES = frozenset({OK, FAILED, SKIPPED, CANCELLED, INTERRUPTED})


@dataclass(frozen=True)
class Offer:
    step: str
    allowed: bool
    reason: str                 # why it is offered, or why not (one sentence)
    hard: bool
    recommended: bool = False   # the next step the guided flow proposes


def tried(history: Iterable[tuple[str, str | None]], step: str) -> list[str | None]:
    """Outcomes of ``step`` in this incident, oldest first (None: in flight)."""
    return [outcome for s, outcome in history if s == step]


def _failed(history: list[tuple[str, str | None]], step: str) -> bool:
    # Only a step that ran and failed counts: one interrupted by a console crash proves
    # nothing, and the fresh read decides again.
    return FAILED in tried(history, step)


def offers(obs: Observation, history: Iterable[tuple[str, str | None]] = ()) -> dict[str, Offer]:
    """Every step with whether it is allowed now; exactly one allowed step is recommended
    when there is anything to do."""
    hist = list(history)
    out: dict[str, Offer] = {}
    sit = obs.situation

    def put(step: str, allowed: bool, reason: str) -> None:
        out[step] = Offer(step, allowed, reason, step in HARD_STEPS)

    if sit == "unreachable":
        for step in STEPS:
            put(step, False, "the host does not answer: the console can neither read nor act on it")
        return out
    put(CAPTURE, True, "read-only: the VM's state, worker process and events, kept in the incident record")
    vm_steps_blocked = None
    if sit == "vmms-wedged":
        vm_steps_blocked = "VMMS does not answer (Get-VM timed out): no VM step can work until it is restarted"
        put(RESTART_VMMS, True, "VM queries time out while the vmms service says " + (obs.vmms_status or "nothing"))
    else:
        put(RESTART_VMMS, False, "VMMS answers: restarting it would not help this VM")
    if sit == "gone":
        vm_steps_blocked = "the VM is not on this host (moved or deleted)"
    if vm_steps_blocked is not None:
        for step in (NMI, SHUTDOWN, TURN_OFF, RESET, END_WORKER, START, VERIFY):
            put(step, False, vm_steps_blocked)
        return _recommend(out, obs, hist)

    running = obs.state in RUNNING
    # 1. NMI: only a running partition takes one.
    put(NMI, running, "optional, before any stop: a guest crash dump for the root-cause analysis"
        if running else f"the VM is {obs.state}: only a running VM takes an NMI")
    # 2. Gentle first.
    if sit == "healthy":
        put(SHUTDOWN, False, "the VM is running and its heartbeat is OK: nothing to recover")
    elif running and obs.shutdown_answers:
        put(SHUTDOWN, True,
            "the guest still answers its shutdown service: ask it to shut down cleanly")
    elif running:
        put(SHUTDOWN, False, "impossible: the guest does not answer its shutdown service ("
            + (obs.shutdown_status or "no integration services") + ")")
    else:
        put(SHUTDOWN, False, f"the VM is {obs.state}: a guest shutdown needs a running guest")
    gentle_out = not out[SHUTDOWN].allowed or _failed(hist, SHUTDOWN)
    # 3. Hard stop, only once the gentle way failed or cannot work, and never on a VM this
    # incident has just started until verifying it failed: a fresh boot shows Starting,
    # then no heartbeat for a minute or two, which is not a freeze.
    can_stop = obs.state not in RESTING and sit != "healthy"
    just_started = _just_started(hist)
    if can_stop and just_started:
        for step in (TURN_OFF, RESET):
            put(step, False, "the VM was just started by this recovery: verify it first")
    elif not can_stop:
        why = "nothing to stop: the VM is " + str(obs.state) if obs.state in RESTING else "the VM is healthy"
        put(TURN_OFF, False, why)
        put(RESET, False, why)
    elif not gentle_out:
        put(TURN_OFF, False, "not yet: the guest shutdown can still work (try it first)")
        put(RESET, False, "not yet: the guest shutdown can still work (try it first)")
    elif sit == "paused":
        why = ("the VM is paused; Paused-Critical usually means the volume holding its files is out of space: "
               "free space there and resume it (Resume-VM); Turn off only if that is not the cause")
        put(TURN_OFF, True, why)
        put(RESET, False, "the VM is paused: free its volume's space and resume it, or use Turn off")
    else:
        put(TURN_OFF, True, "the gentle way failed or cannot work: " + out[SHUTDOWN].reason)
        put(RESET, running, "as Turn off, then boots at once" if running else f"the VM is {obs.state}: use Turn off")
    # 4. The worker: Microsoft's last resort, once Turn off did not work.
    if obs.state in RESTING:
        put(END_WORKER, False, f"the VM is {obs.state}: its worker is gone already")
    elif obs.worker_pid is None:
        put(END_WORKER, False, "no worker process carries this VM's id")
    elif just_started:
        put(END_WORKER, False, "the VM was just started by this recovery: verify it first")
    elif not _failed(hist, TURN_OFF):
        put(END_WORKER, False, "not yet: Turn off has not been tried and failed")
    else:
        put(END_WORKER, True, f"Turn off did not work; the VM is {obs.state}; its worker is process {obs.worker_pid}")
    # 5. Start and verify.
    put(START, obs.state in RESTING, "the VM is " + str(obs.state) + (": start it" if obs.state in RESTING else ""))
    booting = running or str(obs.state).startswith("Starting")
    put(VERIFY, booting, "wait for the heartbeat and an advancing uptime" if booting
        else f"the VM is {obs.state}: nothing to verify yet")
    return _recommend(out, obs, hist)


def _just_started(hist: list[tuple[str, str | None]]) -> bool:
    """This incident's last Start worked and no Verify has failed since."""
    for step, outcome in reversed(hist):
        if step == VERIFY and outcome in (FAILED, CANCELLED):
            return False
        if step == START:
            return outcome == OK
    return False


def _recommend(out: dict[str, Offer], obs: Observation, hist: list[tuple[str, str | None]]) -> dict[str, Offer]:
    order = [RESTART_VMMS, SHUTDOWN, TURN_OFF, END_WORKER, START, VERIFY]
    if obs.situation in ("healthy", "booting") or _just_started(hist):
        order = [VERIFY]
    elif obs.situation == "paused":
        order = []     # nothing proposed: see the Turn off reason
    for step in order:
        offer = out.get(step)
        if step in (SHUTDOWN, TURN_OFF) and _failed(hist, step):
            continue            # tried and failed: propose the next one
        if offer is not None and offer.allowed:
            out[step] = Offer(offer.step, True, offer.reason, offer.hard, recommended=True)
            break
    return out


def confirmation_name(step: str, host: str, vm_name: str | None) -> str | None:
    """What must be typed to confirm ``step`` (None: no confirmation needed)."""
    if step not in HARD_STEPS:
        return None
    return host if step == RESTART_VMMS else (vm_name or "")


def confirmed(step: str, typed: str | None, host: str, vm_name: str | None) -> bool:
    """The typed text confirms ``step``: exactly the name (surrounding blanks ignored;
    an empty expected name never confirms)."""
    expected = confirmation_name(step, host, vm_name)
    if expected is None:
        return True
    if not expected.strip() or typed is None:
        return False
    # A name with a newline or a tab cannot be typed into one line: it is shown, and
    # compared, with each run of blanks and control characters as one space.
    return typed.strip() == expected.strip() or typeable(typed) == typeable(expected)


def typeable(name: str) -> str:
    """The name as one line shows it: control characters and runs of blanks as one space."""
    return " ".join(_CONTROL.sub(" ", name).split())


def history_pairs(rows: Iterable[Mapping[str, object]]) -> list[tuple[str, str | None]]:
    return [(str(r["step"]), None if r.get("outcome") is None else str(r["outcome"])) for r in rows]
