"""Static checks specific to ``collect.ps1`` (docs/collection-script.md).

The script cannot run here, so these tests read its syntax tree: the output keys against
the snapshot-v1 schema (a typo would silently become an unknown extra key), the name tables
against ``hvconsole.core.enums``, the parameters it reads, filters that are data and never
text, the VM query that is bounded without a blocking Stop(), the failure envelope.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tree_sitter import Node

from hvconsole.core import enums
from test_ps_scripts import (LOOP_PARAM_LINE, owner, body, code_only, commands, parse, same,
                             text, top_statements, walk)

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "contracts" / "snapshot-v1.schema.json").read_text())


def hash_tables(src: str) -> list[dict[str, str]]:
    """Every hashtable literal as {key: value text}, quotes stripped from keys and from
    values that are plain string literals."""
    tables = []
    for n in walk(parse(src).root_node):
        if n.type != "hash_literal_expression":
            continue
        table = {}
        for entry in (e for e in walk(n) if e.type == "hash_entry" and same(_nearest_hash(e), n)):
            key = next(c for c in entry.children if c.type == "key_expression")
            value = entry.named_children[-1]
            table[text(key).strip("'\"")] = re.sub(r"^'(.*)'$", r"\1", text(value).strip())
        tables.append(table)
    return tables


def _nearest_hash(node: Node) -> Node | None:
    n = node.parent
    while n is not None and n.type != "hash_literal_expression":
        n = n.parent
    return n


def tables_with(src: str, key: str) -> list[dict[str, str]]:
    found = [t for t in hash_tables(src) if key in t]
    assert found, f"no hashtable with key {key!r}"
    return found


def argument_after(command: Node, parameter: str) -> Node:
    elements = [c for c in walk(command) if c.parent is not None and c.parent.type == "command_elements"
                and c.type != "command_argument_sep"]
    index = next(i for i, c in enumerate(elements) if text(c).lower() == parameter.lower())
    return elements[index + 1]


def props(*path: str) -> set[str]:
    node = SCHEMA
    for step in path:
        node = node["properties"][step] if step != "[]" else node["items"]
    return set(node["properties"])


def test_collect_reads_exactly_the_documented_parameters():
    src = body("collect")
    read = {text(n).split(".", 1)[1] for n in walk(parse(src).root_node)
            if n.type == "member_access" and text(n).startswith("$params.")}
    assert read == {"events_since", "max_events", "vm_query_timeout_ms"}


def _statements_using(src: str, variable: str) -> list[str]:
    uses = [n for n in walk(parse(src).root_node) if n.type == "variable" and text(n).lower() == variable.lower()]
    statements = []
    for use in uses:
        n = use
        while n.type not in ("param_block", "pipeline", "function_statement"):
            n = n.parent
        statements.append(text(n) if n.type != "function_statement" else text(n).split("\n", 1)[0])
    return statements


def test_collect_only_decodes_its_parameters():
    src = body("collect")
    # The one-shot call hands $HvcParams to the poll; the loop hands it each request's text.
    outer = _statements_using(src, "$HvcParams")
    assert outer == [LOOP_PARAM_LINE, "Invoke-CollectPoll $HvcParams 0 $poll"], outer
    inner = _statements_using(src, "$ParamsText")
    assert len(inner) == 2, inner
    assert inner[0].startswith("function Invoke-CollectPoll([string]$ParamsText,")
    assert "[Convert]::FromBase64String($ParamsText.Trim())" in inner[1]
    assert inner[1].rstrip().endswith("| ConvertFrom-Json")


def test_collect_filters_events_and_cim_with_data_not_text():
    found = commands(body("collect"))
    winevent = [params for name, params, _ in found if name == "get-winevent"]
    assert winevent and all("-filterhashtable" in p for p in winevent)
    assert not any({"-filterxpath", "-filterxml", "-logname", "-providername"} & set(p) for p in winevent)
    filters = [argument_after(node, "-Filter") for name, params, node in found
               if name == "get-ciminstance" and "-filter" in params]
    assert filters
    for arg in filters:  # a constant: nothing a host or a user typed can reach WQL
        assert not [n for n in walk(arg) if n.type in ("variable", "sub_expression")], text(arg)


def test_argument_after_finds_a_variable_filter():
    (_, _, node), = commands("Get-CimInstance -ClassName 'X' -Filter \"Name='$n'\"\n")
    assert [n for n in walk(argument_after(node, "-Filter")) if n.type == "variable"]


def test_collect_document_has_the_host_part_of_the_contract():
    client_side = {"schema", "host", "polled_at", "reachable", "error"}
    host_part = set(SCHEMA["properties"]) - client_side
    (doc,) = tables_with(body("collect"), "events_bookmark")
    assert host_part <= set(doc)
    assert set(doc) - host_part == {"events_bookmark", "warnings"}


@pytest.mark.parametrize(("marker", "path", "extras"), [
    ("ubr", ("os",), {"pending_reboot_reasons"}),
    ("cpu_total_run_pct", ("resources",), set()),
    ("operational_status", ("vms", "[]"), set()),
    ("vm_id", ("events", "[]"), set()),
])
def test_collect_sections_use_the_contract_keys(marker, path, extras):
    (table,) = tables_with(body("collect"), marker)
    assert set(table) == props(*path) | extras


def test_collect_vm_query_and_cluster_objects_match_the_contract():
    src = body("collect")
    assert props("vm_query") in [set(t) for t in hash_tables(src)]
    node_states = set(SCHEMA["properties"]["cluster"]["properties"]["node_state"]["enum"])
    drain = set(SCHEMA["properties"]["cluster"]["properties"]["drain_status"]["enum"])
    answers = [t for t in tables_with(src, "drain_status") if "module" not in t]
    assert answers
    for t in answers:
        assert set(t) == props("cluster")
        if not t["node_state"].startswith("$"):
            assert t["node_state"] in node_states
        if not t["drain_status"].startswith("$"):
            assert t["drain_status"] in drain


def test_collect_name_tables_agree_with_the_core_enums():
    src = body("collect")
    (levels,) = tables_with(src, "3")
    assert {int(k): v for k, v in levels.items()} == dict(enums.EVENT_LEVEL_BY_INT)
    (health,) = tables_with(src, "25")
    assert {int(k): v for k, v in health.items()} == {k: v for k, v in enums.HEALTH_BY_INT.items() if k}


def test_collect_reports_the_four_services():
    (call,) = [node for name, _, node in commands(body("collect")) if name == "get-servicestates"]
    names = re.findall(r"'([^']+)'", text(call))
    assert names == ["vmms", "vmcompute", "clussvc", "winrm"]
    described = SCHEMA["properties"]["services"]["description"]
    assert all(re.search(rf"\b{n}\b", described) for n in names)


def function_body(src: str, name: str) -> Node:
    (fn,) = [n for n in walk(parse(src).root_node) if n.type == "function_statement"
             and re.match(rf"function {name}\b", text(n))]
    return fn


def test_collect_failure_path_prints_hvc_error_and_exits_1():
    src = body("collect")
    poll = function_body(src, "Invoke-CollectPoll")
    (main,) = [st for st in walk(poll) if st.type == "try_statement" and same(owner(st), poll)]
    catch = next(c for c in walk(main) if c.type == "catch_clause" and same(owner(c), main))
    assert "hvc_error" in text(catch) and "where = $where" in text(catch)
    assert "$Result.failed = $true" in text(catch)
    # The poll never exits (the loop must outlive a failed poll); the one-shot call does.
    assert not [n for n in walk(poll) if n.type == "flow_control_statement" and text(n).lower().startswith("exit")]
    assert [text(st) for st in top_statements(src)][-2:] == ["if ($poll.failed) { exit 1 }", "exit 0"]
    code = code_only(src)
    # the one-shot answer, the loop's answer line, the loop's bad-line answer
    assert code.count("[Console]::Out.Write(") == 3
    assert len(re.findall(r"ConvertTo-Json -InputObject \$\w+ (-Depth 6 )?-Compress", code)) == 2


def test_collect_bounds_the_vm_query_without_a_blocking_stop():
    code = code_only(body("collect"))
    for needed in ("[powershell]::Create(", ".BeginInvoke()", ".AsyncWaitHandle.WaitOne(", ".BeginStop("):
        assert needed in code, needed
    for forbidden in (r"\.Stop\(\)", r"\.Invoke\(\)"):
        assert not re.search(forbidden, code), forbidden
    # Dispose only a finished query (the PowerShell and its runspace), in the loop (whose
    # process outlives it): never on the timed-out branch, where it would block like Stop().
    assert re.findall(r"[$\w.]+\.Dispose\(\)", code) == ["$Job.Shell.Dispose()", "$runspace.Dispose()"]
    close = code[code.index("function Close-FinishedQuery"):]
    close = close[:close.index("\n}\n")]
    assert close.index("$abandoned.Contains($Job.Shell)") < close.index("$Job.Shell.Dispose()")
    assert "Hyper-V\\Get-VM" in code


def test_collect_avoids_localized_sources():
    code = code_only(body("collect"))
    for localized in ("LevelDisplayName", "Get-Counter", "DisplayName", "Test-Path", "Get-HotFix"):
        assert localized.lower() not in code.lower(), localized


def test_collect_never_adds_a_total_instance_to_its_sums():
    # windows_exporter drops _Total from every Hyper-V counter set: summing it with the
    # instances counts every byte twice.
    src = body("collect")
    helper = src[src.index("function Get-PerfInstances"):]
    helper = helper[:helper.index("\n}") + 2]
    assert "Where-Object { $_.Name -ne '_Total' }" in helper
    for cls in ("HyperVVirtualStorageDevice", "HyperVVirtualNetworkAdapter", "Tcpip_NetworkInterface"):
        uses = [line for line in src.splitlines() if cls in line and not line.lstrip().startswith("#")]
        assert uses and all("Get-PerfInstances '" in line for line in uses), uses


def test_collect_reports_the_applicability_facts():
    code = body("collect")
    # Confidential VMs: one bulk Msvm_VirtualSystemSettingData call, realized VMs only.
    assert "-ClassName 'Msvm_VirtualSystemSettingData' -Filter \"VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'\"" in code
    assert "CimInstanceProperties['GuestStateIsolationEnabled']" in code
    assert "confidential = $isolated[$id]" in code
    # BitLocker on cluster shared volumes, module-qualified, inside the bounded cluster query.
    cluster_query = code[code.index("$clusterQueryBody = {"):code.index("# -- host sections")]
    assert "FailoverClusters\\Get-ClusterSharedVolume" in cluster_query
    assert "BitLocker\\Get-BitLockerVolume -MountPoint" in cluster_query
    # The first insertion string of every event (1135: the removed node).
    assert "$e.Properties[0].Value" in code and "first_insertion_string = $first" in code
