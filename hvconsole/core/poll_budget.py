"""How long a poll lets ``Get-VM`` run, derived from the poll's whole-call deadline.

A wedged VMMS blocks ``Get-VM`` for minutes while everything else on the host answers.
collect.ps1 runs the query in a second runspace and gives up after ``vm_query_timeout_ms``,
so the poll still returns, with ``vm_query.ok = false``: a VMMS finding on a reachable host.
That works only if the script gives up before the client's deadline ends the call; with a
budget at or above the deadline the same host shows as a poll timeout (host unreachable),
which sends the admin looking at the network instead of at VMMS.

The budget is therefore the deadline less room for what the call does besides waiting:
powershell.exe starting, the JSON of every VM and event written out, the WinRM round
trips, and a loaded host doing all that slowly. It never exceeds 15 s: a healthy Get-VM
answers well within that on a large host, and waiting longer only tells the admin later
that VMMS is stuck. The collector asks this one function for its default, so the window,
the agent, the CLI and the trace recorder follow their own deadlines, and collect.ps1's
own default is its value for :data:`DEFAULT_POLL_TIMEOUT_S`.
"""

from __future__ import annotations

DEFAULT_POLL_TIMEOUT_S = 10.0   # the window's and the agent's poll deadline
ROOM_FRACTION = 0.3             # of the deadline, kept for the rest of the call ...
ROOM_MIN_S = 2.5                # ... and never less than this
VM_QUERY_CAP_MS = 15_000        # however long the deadline
VM_QUERY_MIN_MS = 500           # collect.ps1 clamps vm_query_timeout_ms to these bounds
VM_QUERY_MAX_MS = 120_000


def vm_query_budget_ms(poll_timeout_s: float = DEFAULT_POLL_TIMEOUT_S) -> int:
    """The ``vm_query_timeout_ms`` to send with a poll whose whole call ends after
    ``poll_timeout_s`` seconds: 7,000 ms for the 10 s deadline, 15,000 ms from about 21 s
    on. Within collect.ps1's clamp, so the host waits exactly what was asked."""
    room_s = max(ROOM_MIN_S, ROOM_FRACTION * poll_timeout_s)
    budget_ms = min(VM_QUERY_CAP_MS, round((poll_timeout_s - room_s) * 1000))
    return int(min(VM_QUERY_MAX_MS, max(VM_QUERY_MIN_MS, budget_ms)))
