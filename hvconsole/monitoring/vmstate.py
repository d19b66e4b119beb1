"""How a VM's state reads at a glance: state groups for filtering, and the colour language
of the whole window (tiles, host list, findings), as plain hex strings.

Qt-free on purpose: the tables are data a test can check without a screen, and every
widget takes its colours from here so that "Running" is the same green everywhere.
"""

from __future__ import annotations

from hvconsole.core.enums import HEARTBEAT_OK, TRANSITIONAL_VM_STATES

# State groups offered by the filter bar, in menu order.
GROUP_RUNNING = "Running"
GROUP_OFF = "Off"
GROUP_SAVED = "Saved"
GROUP_PAUSED = "Paused"
GROUP_CHANGING = "Changing"
GROUP_OTHER = "Other"
STATE_GROUPS: tuple[str, ...] = (GROUP_RUNNING, GROUP_OFF, GROUP_SAVED, GROUP_PAUSED,
                                 GROUP_CHANGING, GROUP_OTHER)

_GROUP_BY_BASE_STATE = {
    "Running": GROUP_RUNNING,
    "Off": GROUP_OFF,
    "Saved": GROUP_SAVED, "FastSaved": GROUP_SAVED, "Hibernated": GROUP_SAVED,
    "Paused": GROUP_PAUSED,
}

# Colours (Windows-admin conventions: green runs, grey is off, blue is saved to disk,
# amber is paused or moving, red is trouble). Chosen to stay distinguishable for the
# common red-green colour blindness by also differing in lightness.
COLOUR_RUNNING = "#2e7d32"
COLOUR_OFF = "#8a8f98"
COLOUR_SAVED = "#1e6fd9"
COLOUR_PAUSED = "#e08a00"
COLOUR_CHANGING = "#7b52c7"
COLOUR_CRITICAL_STATE = "#c62828"
COLOUR_UNKNOWN = "#9aa0a6"

SEVERITY_COLOUR = {"critical": "#d32f2f", "warning": "#f2a900"}
SEVERITY_TINT = {"critical": "#fdecea", "warning": "#fff6dc"}
SEVERITY_RANK = {"critical": 0, "warning": 1}

_GROUP_COLOUR = {
    GROUP_RUNNING: COLOUR_RUNNING, GROUP_OFF: COLOUR_OFF, GROUP_SAVED: COLOUR_SAVED,
    GROUP_PAUSED: COLOUR_PAUSED, GROUP_CHANGING: COLOUR_CHANGING, GROUP_OTHER: COLOUR_UNKNOWN,
}


def base_state(state: str) -> str:
    """``RunningCritical`` -> ``Running``: the module reports the *Critical variant when
    the VM's health is not OK (hyperv-notes §2)."""
    return state[:-len("Critical")] if state.endswith("Critical") else state


def is_critical_state(state: str) -> bool:
    return state.endswith("Critical") and state != "Critical"


_GROUP_CACHE: dict[str, str] = {}


def state_group(state: str) -> str:
    """The filter group of a VMState name (remembered: every VM asks on every poll)."""
    group = _GROUP_CACHE.get(state)
    if group is None:
        group = _state_group(state)
        if len(_GROUP_CACHE) < 256:   # a host cannot grow this without bound
            _GROUP_CACHE[state] = group
    return group


def _state_group(state: str) -> str:
    base = base_state(state)
    group = _GROUP_BY_BASE_STATE.get(base)
    if group is not None:
        return group
    if base in TRANSITIONAL_VM_STATES or base in ("Saving", "Pausing", "Resuming", "FastSaving"):
        return GROUP_CHANGING
    return GROUP_OTHER


def state_colour(state: str) -> str:
    """The tile stripe colour of a state; any *Critical state is red whatever its base."""
    if is_critical_state(state):
        return COLOUR_CRITICAL_STATE
    return _GROUP_COLOUR[state_group(state)]


def heartbeat_text(heartbeat: str | None, state: str) -> str:
    """Short heartbeat wording for a tile ("OK", "Lost", "No contact", ...)."""
    if heartbeat is None:
        return "—" if state_group(state) != GROUP_RUNNING else "n/a"
    if heartbeat in HEARTBEAT_OK:
        return "App critical" if heartbeat == "OkApplicationsCritical" else "OK"
    return {
        "LostCommunication": "Lost", "NoContact": "No contact", "Disabled": "Disabled",
        "Error": "Error", "Paused": "Paused", "Unknown": "Unknown",
    }.get(heartbeat, heartbeat)


def heartbeat_is_bad(heartbeat: str | None) -> bool:
    """Heartbeats worth colouring red on a tile (they are one freeze indicator)."""
    return heartbeat in ("LostCommunication", "Error")
