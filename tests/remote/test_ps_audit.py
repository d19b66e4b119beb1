"""Static checks specific to ``audit.ps1`` (docs/health-check.md).

The script cannot run here, so these tests read its syntax tree: its output keys against
the audit-v1 schema's answer (a typo would silently become a missing field), the parameters
it reads, that it only reads (no command that changes a host, no BPA scan), and that its
Hyper-V part is bounded without a blocking Stop().
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_ps_collect import hash_tables
from test_ps_scripts import body, code_only, commands, parse, text, walk

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "contracts" / "audit-v1.schema.json").read_text())
DEFS = SCHEMA["$defs"]
SRC = body("audit")
# Verbs of commands that only read (Import-Module loads a module into this process).
READ_ONLY_VERBS = {"get", "test", "where", "foreach", "sort", "select", "import", "convertto", "convertfrom"}


def table_with(key: str, *also: str) -> set[str]:
    found = [set(t) for t in hash_tables(SRC) if key in t and all(a in t for a in also)]
    assert len(found) >= 1, f"no hashtable with {key!r}"
    return found[0]


def test_audit_reads_exactly_the_documented_parameters():
    read = {text(n).split(".", 1)[1] for n in walk(parse(SRC).root_node)
            if n.type == "member_access" and text(n).startswith("$params.")}
    assert read == {"vm_query_timeout_ms", "max_checkpoints", "bpa"}


def test_top_level_keys_are_the_schema_answer():
    assert table_with("audit_version", "vm_query") == set(DEFS["answer"]["properties"])


def test_host_keys_are_the_schema_host():
    assert table_with("computer_name", "numa_nodes") == set(DEFS["answer"]["properties"]["host"]["properties"])
    assert table_with("pending_reboot_since") == set(DEFS["answer"]["properties"]["host"]["properties"]["os"]["properties"])


def test_vm_keys_are_the_schema_vm():
    vm = DEFS["vm"]["properties"]
    assert table_with("memory_startup_mb") == set(vm)
    assert table_with("file_size_mb") == set(vm["disks"]["items"]["properties"])
    assert table_with("depth", "created") == set(vm["checkpoints"]["items"]["properties"])
    assert table_with("heartbeat", "shutdown") == set(vm["integration_services"]["properties"])


def test_bpa_result_keys_are_in_the_schema():
    bpa = DEFS["answer"]["properties"]["bpa"]["properties"]
    assert table_with("resolution") == set(bpa["results"]["items"]["properties"])
    assert table_with("available", "results") == set(bpa)


def test_the_script_only_reads():
    own = {f.lower() for f in re.findall(r"^\s*function\s+([\w-]+)", SRC, re.M)}
    names = {name for name, _, _ in commands(SRC)} - own
    changing = {n for n in names if n.split("\\")[-1].split("-")[0] not in READ_ONLY_VERBS}
    assert changing == set(), changing
    assert "invoke-bpamodel" not in code_only(SRC).lower()      # a scan writes results: never started here


def test_read_only_check_sees_a_changing_command():
    # the verb test above, shown to fail on a script that changes a VM
    name = "Hyper-V\\Set-VM"
    assert name.lower().split("\\")[-1].split("-")[0] not in READ_ONLY_VERBS


def test_the_hyperv_part_is_bounded_without_a_blocking_stop():
    code = code_only(SRC)
    assert "BeginStop(" in code and not re.search(r"\.Stop\(\)", code)
    assert "WaitOne(" in code
    # Every Hyper-V cmdlet runs inside the bounded runspace's body.
    start = SRC.index("$vmAuditBody = {")
    end = SRC.index("$clusterQueryBody = {")
    outside = SRC[:start] + SRC[end:]
    assert not re.search(r"Hyper-V\\", code_only(outside))


def test_integration_services_are_found_by_guid_not_by_localized_name():
    assert "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47" in SRC     # Heartbeat (hyperv-notes §2)
    assert not re.search(r"-Name\s+'?(Heartbeat|Shutdown)", SRC)
