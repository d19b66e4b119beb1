"""Static checks specific to the recovery scripts (``recover_*.ps1``); the checks every
shipped script passes (header, syntax, one JSON document, 5.1 only, parameters as data)
are in test_ps_scripts.py. Here: VMs addressed by id and never by name, the worker found
by the VM id on its command line and ended by process id only, the gentle shutdown never
forced, the read-only script acting on nothing, every acting script reading before it
acts, and the guards that make a repeated call act nothing twice. Each check is shown to
fail on a bad snippet."""

from __future__ import annotations

import re

import pytest

from hvconsole.remote import loader
from test_ps_scripts import body, code_only, commands

RECOVER = tuple(s for s in loader.shipped_scripts() if s.startswith("recover_"))
ACTING_COMMANDS = {"hyper-v\\stop-vm", "hyper-v\\start-vm", "hyper-v\\restart-vm", "hyper-v\\debug-vm",
                   "stop-process", "restart-service", "stop-service", "start-service", "stop-vm", "start-vm",
                   "restart-vm", "debug-vm"}
VM_CMDLETS = re.compile(r"^(hyper-v\\)?(get|stop|start|restart|debug|save|suspend|resume)-vm(integrationservice)?$")
READ_VM = re.compile(r"Hyper-V\\Get-VM\s*\|\s*Where-Object\s*\{\s*\$_\.VMId\s+-eq", re.I)


def test_the_four_recovery_scripts_ship():
    assert RECOVER == ("recover_inspect", "recover_vm", "recover_vmms", "recover_worker")


def by_name_uses(src: str) -> list[str]:
    """VM cmdlets given a name: -Name / -VMName, or a positional string argument."""
    bad = []
    for name, params, node in commands(src):
        if VM_CMDLETS.match(name) and {"-name", "-vmname"} & set(params):
            bad.append(node.text.decode())
    return bad


def test_by_name_check_fails_on_a_name():
    assert by_name_uses("Hyper-V\\Get-VM -Name $n\nStop-VM -VMName 'x'\n") != []
    assert by_name_uses("Hyper-V\\Get-VM | Where-Object { $_.VMId -eq $id }\n") == []


@pytest.mark.parametrize("name", RECOVER)
def test_vms_are_found_by_id_never_by_name(name):
    src = body(name)
    assert by_name_uses(src) == []
    if name != "recover_vmms":
        assert READ_VM.search(src) or "[guid]$Id" in src
        assert "[guid]::Parse([string]$params.vm_id)" in src


def worker_lookup_problems(src: str) -> list[str]:
    code = code_only(src)
    problems = []
    for name, params, node in commands(src):
        if name == "stop-process" and ("-name" in params or "-id" not in params):
            problems.append("Stop-Process without -Id: " + node.text.decode())
        if name in ("get-process",) and "-name" in params:
            problems.append("Get-Process by name: " + node.text.decode())
    if "Stop-Process" in code and "CommandLine.IndexOf($Id" not in code:
        problems.append("the worker is not matched on the VM id in its command line")
    return problems


def test_worker_check_fails_on_a_lookup_by_name():
    assert worker_lookup_problems("Stop-Process -Name vmwp -Force\n")
    assert worker_lookup_problems("$p = Get-Process -Name vmwp\nStop-Process -Id $p.Id\n")


@pytest.mark.parametrize("name", RECOVER)
def test_the_worker_is_found_by_vm_id_and_ended_by_process_id(name):
    assert worker_lookup_problems(body(name)) == []


def test_the_worker_is_ended_only_if_it_is_still_the_one_read_before():
    code = code_only(body("recover_worker"))
    assert re.search(r"\$expected\s+-ne\s+\$workerId", code)
    guard = code.index("$expected -ne $workerId")
    assert guard < code.index("Stop-Process")


def test_vmms_is_restarted_only_if_its_process_is_the_one_read_before():
    code = code_only(body("recover_vmms"))
    assert code.index("$expected -ne $before.pid") < code.index("Restart-Service")
    assert "BeginStop" in code and "WaitOne($TimeoutMs)" in code    # the check after is bounded


def test_the_gentle_shutdown_is_never_forced():
    """Stop-VM -Force turns a guest that does not answer off after five minutes: the hard
    step in disguise. The gentle step's Stop-VM has neither -Force nor -TurnOff."""
    stops = [params for name, params, _ in commands(body("recover_vm")) if name == "hyper-v\\stop-vm"]
    assert len(stops) == 2
    gentle = [p for p in stops if "-turnoff" not in p]
    assert gentle and all("-force" not in p for p in gentle)


def test_the_shutdown_needs_the_guest_to_answer_its_shutdown_service():
    code = code_only(body("recover_vm"))
    assert "9F8233AC-BE49-4C79-8EE3-E7E1985B2077" in body("recover_vm")   # the shutdown IC's id, not its name
    assert code.index("$status -ne") < code.index("Stop-VM -VM $vm -Confirm:$false -AsJob")


def acting(src: str) -> list[str]:
    return [name for name, _, _ in commands(src) if name in ACTING_COMMANDS]


def test_acting_check_fails_on_an_action():
    assert acting("Hyper-V\\Stop-VM -VM $v -TurnOff\n") == ["hyper-v\\stop-vm"]


def test_the_inspection_is_read_only():
    src = body("recover_inspect")
    assert acting(src) == []
    assert not re.search(r"\b(Set|Remove|New|Stop|Start|Restart|Invoke)-", code_only(src).replace("Start-Sleep", ""))


@pytest.mark.parametrize("name", ["recover_vm", "recover_worker", "recover_vmms"])
def test_acting_scripts_read_before_they_act(name):
    src = body(name)
    code = code_only(src)
    first_action = min(code.index(c) for c in ("Stop-VM", "Start-VM", "Restart-VM", "Debug-VM", "Stop-Process",
                                               "Restart-Service") if c in code)
    first_read = min(code.index(c) for c in ("Get-VM", "Get-VmState", "Get-Vmms") if c in code)
    assert first_read < first_action
    assert "skipped_reason" in code          # a state that does not call for the action is reported, not acted on


def test_each_vm_action_checks_the_state_first():
    code = code_only(body("recover_vm"))
    for action in ("Stop-VM -VM $vm -TurnOff", "Restart-VM", "Start-VM", "Debug-VM"):
        at = code.index(action)
        before = code[max(0, at - 260):at]
        assert "States" in before, action
