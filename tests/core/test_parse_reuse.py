"""The parser hands a VM's usual one-name operational status list out as one shared tuple;
the sample must be the one the tolerant path makes, for every name and list length."""

from __future__ import annotations

import json
from pathlib import Path

from hvconsole.core import enums, parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "contracts"
EXAMPLE = json.loads((FIXTURES / "example-trace.jsonl").read_text().splitlines()[0])
VM = next(v for v in EXAMPLE["vms"] if v.get("state") == "Running")


def test_every_status_list_gives_the_tolerant_paths_sample():
    names = sorted(set(enums.OPERATIONAL_STATUS_BY_INT.values()))
    lists: list[list] = [[], *([n] for n in names), [names[0], names[-1]], [names[1], names[1], names[2]]]
    for statuses in lists:
        raw = {**VM, "operational_status": [str(s) for s in statuses]}   # fresh strings, as JSON makes
        fast = parse._vm(raw, "vms[0]")
        assert fast == parse._vm_tolerant(raw, "vms[0]")
        assert fast.operational_status == tuple(statuses)
        assert type(fast.operational_status) is tuple
