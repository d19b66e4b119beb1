"""Static checks of the patch workflow's PowerShell (``scripts/patch_*.ps1``).

No PowerShell runs here, so these tests read syntax trees (tree-sitter-powershell, helpers
from ``test_ps_scripts``, whose generic rules also run over these scripts) and check what
docs/patching.md "Script contract" and docs/patch-scripts.md promise: every answer field of
the contract table (parsed from the doc, so the test follows the contract), only the
parameters it lists, executables called with argument arrays, VMs by Id only, every value
validated, the installer wrapper a constant verbatim here-string, idempotent order
(reality read before acting), ISO times. Each checker is shown to fail on a bad snippet.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
from tree_sitter import Node

from hvconsole.remote import loader
from test_ps_scripts import body, code_only, commands, syntax_problems, text, walk, DYNAMIC_CODE_COMMANDS
from test_ps_scripts import parse as _parse

DOC = Path(__file__).parents[2] / "docs" / "patching.md"
SCRIPTS_DIR = Path(__file__).parents[2] / "hvconsole" / "remote" / "scripts"
PATCH = tuple(n for n in loader.shipped_scripts() if n.startswith("patch_"))
BASE64_BUDGET = 25_000
ISO_FORMAT = "\"yyyy-MM-dd'T'HH:mm:ss.fff'Z'\""
# The wrapper's result file, as the brief and docs/patch-scripts.md define it.
INSTALL_RESULT = {"exit_code", "started_at", "finished_at", "method", "steps", "log"}
# Fields the scripts answer beyond the contract table (docs/patch-scripts.md lists them).
EXTRAS = {
    "patch_preflight": {"space_ok", "warnings", "drain_status", "migration", "confidential", "bitlocker_csvs"},
    "patch_stage_check": set(),
    "patch_drain": set(),
    "patch_install_start": INSTALL_RESULT,
    "patch_install_status": {"steps", "log"},
    "patch_reboot": {"already_scheduled", "delay_s", "comment", "exit_code", "error"},
    "patch_restore": {"skipped_reason"},
    "patch_cleanup": {"warnings"},
}
# Parameters beyond the contract table, optional (docs/patch-scripts.md lists them):
# preflight checks the live migrations the plan intends (issue 11).
EXTRA_PARAMS = {"patch_preflight": {"live_migrations"}}
PATH_PARAMS = {"staging_dir", "path", "package_path", "result_path", "remove_package_path"}
VM_CMDLETS = re.compile(r"^(hyper-v\\)?[a-z]+-vm(snapshot|checkpoint)?$")
# Trees are read-only here: parse each text once.
parse = lru_cache(maxsize=64)(_parse)


# -- the contract table ---------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    name: str
    children: tuple["Field", ...] = ()
    values: frozenset[str] = field(default_factory=frozenset)


def _split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [p for p in parts + [cur.strip()] if p]


def parse_shape(s: str) -> tuple[Field, ...]:
    """``[{a, b: x|y, c: [{d}]}]`` or ``{...}`` -> the fields of one object."""
    s = s.strip()
    while s[:1] in "[{" and s[-1:] in "]}":
        s = s[1:-1].strip()
    return tuple(parse_item(p) for p in _split_top(s))


def parse_item(s: str) -> Field:
    name, _, rest = s.partition(":")
    rest = rest.strip()
    if not rest:
        return Field(name.strip())
    if rest[0] in "[{":
        return Field(name.strip(), parse_shape(rest))
    return Field(name.strip(), values=frozenset(v.strip() for v in rest.split("|")))


def parse_cell(cell: str) -> dict[str, Field]:
    """Backticked names of one table cell; a `{...}` right after a name is its shape, and
    backticked words after ``:``, ``(`` or ``|`` are its values."""
    cell = cell.replace("\\|", "|")
    fields: list[Field] = []
    end = 0
    for m in re.finditer(r"`([^`]*)`", cell):
        between, content = cell[end:m.start()].strip(), m.group(1)
        end = m.end()
        if fields and content[:1] in "[{":
            last = fields.pop()
            fields.append(Field(last.name, parse_shape(content), last.values))
        elif fields and between in (":", "|", "("):
            last = fields.pop()
            fields.append(Field(last.name, last.children, last.values | {content}))
        else:
            fields.append(parse_item(content))
    return {f.name: f for f in fields}


@lru_cache(maxsize=None)
def contract() -> dict[str, tuple[dict[str, Field], dict[str, Field], str]]:
    section = DOC.read_text(encoding="utf-8").split("## Script contract", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0].startswith("`patch_"):
            rows[cells[0].strip("`")] = (parse_cell(cells[1]), parse_cell(cells[2]), cells[2])
    return rows


# -- reading the scripts ----------------------------------------------------------------------

def hash_keys(node: Node) -> set[str]:
    return {text(e.child_by_field_name("key") or e.children[0]).strip("'\"") for e in node.named_children
            if e.type == "hash_entry"} | {k for c in node.named_children if c.type == "hash_literal_body"
                                           for k in hash_keys(c)}


def hashtables(src: str) -> list[set[str]]:
    return [hash_keys(n) for n in walk(parse(src).root_node) if n.type == "hash_literal_expression"]


def assigned(src: str, variable: str) -> list[Node]:
    """Right-hand sides of ``$variable = ...``."""
    return [n.children[-1] for n in walk(parse(src).root_node) if n.type == "assignment_expression"
            and text(n.children[0]).strip().lower() == variable.lower()]


def document_keys(src: str) -> set[str]:
    """Keys of the answer: the one ``$doc = [ordered]@{...}`` of the script."""
    (table,) = [next(n for n in walk(rhs) if n.type == "hash_literal_expression")
                for rhs in assigned(src, "$doc") if text(rhs).lstrip().startswith("[ordered]@{")]
    return hash_keys(table)


def member_reads(src: str, variable: str) -> set[str]:
    prefix = variable.lower() + "."
    return {text(n)[len(prefix):] for n in walk(parse(src).root_node)
            if n.type == "member_access" and text(n).lower().startswith(prefix)}


def string_values(src: str) -> set[str]:
    return {text(n)[1:-1] for n in walk(parse(src).root_node) if n.type == "string_literal" and text(n)[:1] in "'\""}


def array_strings(src: str, variable: str) -> set[str]:
    (rhs,) = assigned(src, variable)
    return {text(n)[1:-1] for n in walk(rhs) if n.type == "string_literal"}


def wrapper_text() -> str:
    (rhs,) = assigned(body("patch_install_start"), "$wrapperText")
    here = text(rhs).strip()
    assert here.startswith("@'\n") and here.endswith("\n'@"), "the wrapper must be a verbatim @'...'@ here-string"
    return here[3:-3]


def guard(node: Node) -> str | None:
    """The condition of the innermost if/elseif branch a node sits in ("else" for an else
    branch, None outside any)."""
    n = node
    while n.parent is not None:
        if n.type == "statement_block" and n.parent.type in ("if_statement", "elseif_clause"):
            return text(next(c for c in n.parent.children if c.type == "pipeline"))
        if n.type == "statement_block" and n.parent.type == "else_clause":
            return "else"
        n = n.parent
    return None


def enclosing_function(node: Node) -> Node | None:
    while node is not None and node.type != "function_statement":
        node = node.parent
    return node


# -- the checkers -------------------------------------------------------------------------

def missing_answers(src: str, answers: dict[str, Field], extras: frozenset[str] = frozenset()) -> list[str]:
    """Contract fields absent from the answer, objects of the contract's shape (its fields,
    at most the documented extras besides) that the script never builds, and enum values it
    never produces. An undocumented top-level field counts too: it is a typo or a change."""
    doc, tables, values = document_keys(src), hashtables(src), string_values(src)
    problems = [f"answer field {name!r} missing" for name in answers if name not in doc]
    problems += [f"undocumented answer field {name!r}" for name in sorted(doc - set(answers) - extras)]

    def shape(f: Field, where: str) -> None:
        names = {c.name for c in f.children}
        if names and not any(names <= t <= names | extras for t in tables):
            problems.append(f"no object with the fields of {where}{f.name}")
        problems.extend(f"value {v!r} of {where}{f.name} never produced" for v in f.values - values)
        for c in f.children:
            shape(c, f"{where}{f.name}.")

    for f in answers.values():
        shape(f, "")
    return problems


def native_call_problems(src: str) -> list[str]:
    """``&`` calls must pass one argument array, or splat a [string[]] parameter of their
    function, whose callers must then pass one; no element may be built by concatenation;
    an expandable string may only be a fixed ``/Option:`` and one variable. No
    Start-Process, no cmd.exe."""
    problems = []
    calls = [n for n in walk(parse(src).root_node) if n.type == "command" and not _runs_scriptblock(n)]
    splatters = {_function_name(n) for n in calls if _is_native(n) and _splat_ok(n)}
    for node in calls:
        name = text(node.children[1] if _is_native(node) else node.children[0]).lower()
        if name.split("\\")[-1] in ("start-process", "cmd", "cmd.exe", "invoke-item"):
            problems.append(f"{name} is not allowed")
        if not _is_native(node) and name not in splatters:
            continue
        args = _arguments(node)
        arrays = [a for a in args if text(a).startswith("@(")]
        if _is_native(node) and not ((len(args) == 1 and len(arrays) == 1) or _splat_ok(node)):
            problems.append(f"not one argument array: {text(node)[:70]}")
        if not _is_native(node) and not arrays:
            problems.append(f"no argument array: {text(node)[:70]}")
        for n in (n for array in arrays for n in walk(array)):
            if n.type == "additive_expression" and any(c.type == "+" for c in n.children):
                problems.append(f"concatenated argument: {text(n)[:60]}")
            if n.type == "expandable_string_literal" and not re.fullmatch(r'"/?[\w-]+:\$\w+"', text(n)):
                problems.append(f"expandable argument: {text(n)}")
            if n.type == "sub_expression":
                problems.append(f"subexpression in an argument: {text(n)}")
    return problems


def _is_native(command: Node) -> bool:
    return command.children[0].type == "command_invokation_operator"


def _declared(node: Node, type_name: str, variable: str) -> bool:
    """Is ``variable`` a parameter of type ``type_name`` of the function around ``node``?"""
    function = enclosing_function(node)
    pattern = re.escape(type_name) + re.escape(variable) + r"\b"
    return function is not None and bool(re.search(pattern, text(function), re.I))


def _runs_scriptblock(command: Node) -> bool:
    """``& $Body`` where $Body is a [scriptblock] parameter: PowerShell, not a program."""
    return _is_native(command) and _declared(command, "[scriptblock]", text(command.children[1]))


def _function_name(node: Node) -> str | None:
    function = enclosing_function(node)
    return None if function is None else text(next(c for c in function.children if c.type == "function_name")).lower()


def _arguments(command: Node) -> list[Node]:
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    if elements is None:
        return []
    return [c for c in elements.children if c.type not in ("command_argument_sep", "command_parameter", "redirection")]


def _splat_ok(node: Node) -> bool:
    """``& $Exe @Arguments`` inside a function whose $Arguments is a [string[]] parameter."""
    args = _arguments(node)
    return len(args) == 1 and bool(re.fullmatch(r"@\w+", text(args[0]))) \
        and _declared(node, "[string[]]", "$" + text(args[0])[1:])


def vm_by_name_problems(src: str) -> list[str]:
    problems = []
    own = {text(c).lower() for c in walk(parse(src).root_node) if c.type == "function_name"}
    for name, params, node in commands(src):
        if not VM_CMDLETS.match(name) or name in own:
            continue
        if {"-name", "-vmname"} & set(params):
            problems.append(f"by name: {text(node)[:60]}")
        if name.endswith("get-vm") and (set(params) - {"-id"} or (not params and _arguments(node))):
            problems.append(f"Get-VM not by Id: {text(node)[:60]}")
        if not name.startswith("hyper-v\\"):
            problems.append(f"not module-qualified (PowerCLI has a Get-VM too): {name}")
    return problems


def unvalidated_reads(src: str, validators: dict[str, str]) -> list[str]:
    """Each ``$params.<name>`` in ``validators`` must be read only as the first argument of
    its validator command."""
    problems = []
    for n in walk(parse(src).root_node):
        if n.type != "member_access" or not text(n).lower().startswith("$params."):
            continue
        name = text(n).split(".", 1)[1]
        if name not in validators:
            continue
        p, statement = n, n
        while statement.parent is not None and statement.parent.type != "statement_list":
            statement = statement.parent
        while p is not None and p.type != "command":
            if p.type == "comparison_expression" and re.fullmatch(r"\$null -[en][eq] " + re.escape(text(n)), text(p)):
                break  # "is it given?" reads nothing into the script's work
            p = p.parent
        if p is not None and p.type == "comparison_expression":
            continue
        if p is None or text(p).split()[0] != validators[name]:
            problems.append(f"$params.{name} used outside {validators[name]}: {text(statement)[:70]}")
    return problems


def time_format_problems(src: str) -> list[str]:
    calls = [text(n) for n in walk(parse(src).root_node) if n.type == "invokation_expression" and "yyyy" in text(n)]
    bad = [c for c in calls if f".ToString({ISO_FORMAT}, $inv)" not in c]
    return bad + [f"Get-Date -Format: {text(n)[:50]}" for name, params, n in commands(src)
                  if name == "get-date" and "-format" in params]


# -- the checkers fail on bad snippets ------------------------------------------------------

BAD_DOC = "$doc = [ordered]@{ state = 'started'; vms = @(); extra = 1 }\n$row = [ordered]@{ id = 1 }\n"


def test_answer_check_reports_missing_fields_shapes_and_values():
    answers = parse_cell("`state`: `started`\\|`done`, `vms: [{id, name}]`, `log`")
    assert missing_answers(BAD_DOC, answers) == [
        "answer field 'log' missing", "undocumented answer field 'extra'", "value 'done' of state never produced",
        "no object with the fields of vms"]
    # A table with the contract's fields and more than the documented extras is not the one.
    assert "no object with the fields of vms" in missing_answers(BAD_DOC + "$x = @{ id = 1; name = 2; size = 3 }\n", answers)
    assert "no object with the fields of vms" not in missing_answers(BAD_DOC + "$x = @{ id = 1; name = 2 }\n", answers)


@pytest.mark.parametrize("snippet", [
    "& $shutdownExe '/r' '/t' $delay\n",                      # loose arguments, no array
    "& $dismExe @('/PackagePath:' + $cab)\n",                  # concatenation
    "& $dismExe @(\"/PackagePath:$cab /Quiet\")\n",             # two things in one string
    "& $dismExe @(\"/LogPath:$($a.b)\")\n",                     # subexpression
    "Start-Process -FilePath 'dism.exe' -ArgumentList $line\n",
    "cmd.exe /c $line\n",
    "function Run([string]$Exe, [string]$Line) { & $Exe @Line }\n",  # splat of a plain string
])
def test_native_call_check_reports_string_built_command_lines(snippet):
    assert native_call_problems(snippet)


def test_native_call_check_accepts_arrays_and_checked_splats():
    ok = ("& $x @('/r', '/t', [string]$d, \"/PackagePath:$cab\")\n"
          "function Run([string]$Exe, [string[]]$Arguments) { & $Exe @Arguments 2>&1 }\n"
          "$null = Run $dismExe @('/Online', \"/LogPath:$log\")\n")
    assert native_call_problems(ok) == []
    assert native_call_problems(ok + "$null = Run $dismExe @('/x:' + $y)\n")


@pytest.mark.parametrize("snippet", [
    "$vm = Hyper-V\\Get-VM -Name $name\n", "$vm = Hyper-V\\Get-VM $name\n", "Hyper-V\\Save-VM -Name $n\n",
    "Hyper-V\\Stop-VM -VMName $n\n", "$vm = Get-VM -Id $id\n",
])
def test_vm_check_reports_names_and_unqualified_cmdlets(snippet):
    assert vm_by_name_problems(snippet)


def test_validation_check_reports_a_raw_parameter():
    src = "$p = Assert-HvcPath $params.path 'path'\n$q = Join-Path 'C:\\x' $params.package_path\n"
    assert unvalidated_reads(src, {"path": "Assert-HvcPath", "package_path": "Assert-HvcPath"}) == [
        "$params.package_path used outside Assert-HvcPath: $q = Join-Path 'C:\\x' $params.package_path"]


def test_time_check_reports_local_and_culture_formats():
    assert time_format_problems("$a = $t.ToString('yyyy-MM-dd HH:mm')\n$b = Get-Date -Format 'o'\n") == [
        "$t.ToString('yyyy-MM-dd HH:mm')", "Get-Date -Format: Get-Date -Format 'o'"]


def test_parameter_and_branch_readers_see_what_they_must():
    src = "$a = $params.task_name\n$b = $params.extra\nif ($x) { Save-VM -VM $v } else { Stop-VM -VM $v }\nSave-VM -VM $y\n"
    assert member_reads(src, "$params") == {"task_name", "extra"}
    assert [guard(n) for _, _, n in commands(src)] == ["$x", "else", None]


def test_wrapper_check_refuses_an_expanding_here_string(monkeypatch):
    monkeypatch.setattr("test_ps_patch.body", lambda name: '$wrapperText = @"\n$x\n"@\n')
    with pytest.raises(AssertionError, match="verbatim"):
        wrapper_text()


# -- the contract ---------------------------------------------------------------------------

def test_contract_rows_are_exactly_the_shipped_patch_scripts():
    assert set(contract()) == set(PATCH)
    params, answers, _ = contract()["patch_drain"]
    (vms,) = [params["vms"]]
    assert [c.name for c in vms.children] == ["id", "action", "destination"]
    assert vms.children[1].values == {"save", "shutdown", "live-migrate", "host-default"}
    assert contract()["patch_install_start"][0]["method"].values == {"auto", "dism", "wusa", "add-windowspackage"}
    cluster = contract()["patch_preflight"][1]["cluster"]
    assert [c.name for c in cluster.children] == ["name", "node_state", "other_nodes"]
    assert contract()["patch_install_status"][1]["state"].values == {"done", "running", "not-found"}


@pytest.mark.parametrize("name", PATCH)
def test_answer_has_every_contract_field(name):
    assert missing_answers(body(name), contract()[name][1], frozenset(EXTRAS[name])) == []


def test_install_answers_and_wrapper_result_carry_the_result_fields():
    assert "when done the result below" in contract()["patch_install_start"][2]
    for name in ("patch_install_start", "patch_install_status"):
        assert INSTALL_RESULT <= document_keys(body(name)), name
    (rhs,) = assigned(wrapper_text(), "$result")
    assert hash_keys(next(n for n in walk(rhs) if n.type == "hash_literal_expression")) == INSTALL_RESULT
    assert {"cab", "exit_code"} in hashtables(wrapper_text())


@pytest.mark.parametrize("name", PATCH)
def test_script_reads_exactly_the_contract_parameters(name):
    params = contract()[name][0]
    assert member_reads(body(name), "$params") == set(params) | EXTRA_PARAMS.get(name, set())
    if "vms" in params:
        assert member_reads(body(name), "$request") == {c.name for c in params["vms"].children}


@pytest.mark.parametrize(("name", "variable", "param", "child"), [
    ("patch_drain", "$validActions", "vms", "action"),
    ("patch_restore", "$validActions", "vms", "action"),
    ("patch_install_start", "$validMethods", "method", None),
])
def test_fixed_value_sets_match_the_contract(name, variable, param, child):
    spec = contract()[name][0][param]
    if child:
        spec = next(c for c in spec.children if c.name == child)
    assert array_strings(body(name), variable) == set(spec.values)
    assert re.search(re.escape(variable) + r" -cnotcontains \$\w+", body(name))


@pytest.mark.parametrize("name", PATCH)
def test_every_value_is_validated_before_use(name):
    src = body(name)
    params = set(contract()[name][0])
    validators = {p: "Assert-HvcPath" for p in params & PATH_PARAMS}
    if "task_name" in params:
        validators["task_name"] = "Assert-TaskName"
    assert unvalidated_reads(src, validators) == []
    if "vms" in params:
        assert "[guid]::Parse([string]$request.id)" in src


# -- the validators behave ------------------------------------------------------------------

@lru_cache(maxsize=None)
def _pattern(src: str, variable: str) -> re.Pattern[str]:
    (rhs,) = assigned(src, variable)
    dotnet = text(rhs).strip()[1:-1]
    return re.compile(dotnet.replace(r"\z", r"\Z"), re.I)  # PowerShell -match ignores case


def path_accepted(src: str, value: str) -> bool:
    return bool(_pattern(src, "$hvcPathPattern").search(value)) and ".." not in value \
        and not _pattern(src, "$reservedSegment").search(value)


GOOD_PATHS = [r"C:\hvconsole\packages\windows10.0-kb5061906-x64_abc.msu", r"c:\HVConsole\results\run-7.json"]
BAD_PATHS = [r"C:\hvconsole", "C:\\hvconsole\\", r"C:\hvconsole\..\Windows\win.ini", r"C:\hvconsole\a\..\..\b",
             r"C:\Windows\x.msu", r"D:\hvconsole\x.msu", r"\\server\share\x.msu", r"C:\hvconsole\x.msu:ads",
             r"C:\hvconsole\a b.msu", 'C:\\hvconsole\\a".msu', "C:\\hvconsole\\x.msu\n", r"C:\hvconsole\\x.msu",
             r"C:\hvconsole\x.", r"C:\hvconsole\CON", r"C:\hvconsole\nul.txt", r"C:\hvconsole\$(calc).msu",
             r"C:\hvconsoleX\x.msu", "C:/hvconsole/x.msu", "C:\\hvconsole\\x'; Stop-Computer -Force; '"]
GOOD_TASKS = ["hvc-install-KB5061906-HV01-20250523T100000", "a", "x.y_z-1"]
BAD_TASKS = ["", "a'; Stop-Computer -Force; '", "..", "a..b", ".hidden", "x/y", "x\\y", "a b", "x\n", "a" * 101,
             "name$(calc)", "caf\u00e9"]


def test_path_check_is_shown_to_catch_what_a_naive_pattern_lets_through():
    naive = "$hvcPathPattern = '^C:\\\\hvconsole\\\\.+$'\n$reservedSegment = 'x^'\n"
    assert [p for p in BAD_PATHS if path_accepted(naive, p)]


@pytest.mark.parametrize("name", [n for n in PATCH if set(contract()[n][0]) & PATH_PARAMS] + ["wrapper"])
def test_path_validation_accepts_only_plain_paths_under_the_root(name):
    src = wrapper_text() if name == "wrapper" else body(name)
    assert [p for p in GOOD_PATHS if not path_accepted(src, p)] == []
    assert [p for p in BAD_PATHS if path_accepted(src, p)] == []
    (fn,) = [n for n in walk(parse(src).root_node) if n.type == "function_statement" and "Assert-HvcPath" in text(n)[:40]]
    for needed in ("-notmatch $hvcPathPattern", "$Value.Contains('..')", "-match $reservedSegment",
                   "[IO.Path]::GetFullPath($Value) -ne $Value"):
        assert needed in text(fn), needed


@pytest.mark.parametrize("name", [n for n in PATCH if "task_name" in contract()[n][0]])
def test_task_name_validation(name):
    pattern = _pattern(body(name), "$taskNamePattern")
    accepted = [t for t in GOOD_TASKS + BAD_TASKS if pattern.search(t) and ".." not in t]
    assert accepted == GOOD_TASKS
    assert "$Value.Contains('..')" in body(name)


def test_duplicated_helpers_have_not_drifted_apart():
    sources = [body(n) for n in PATCH] + [wrapper_text()]
    for helper in ("function Assert-HvcPath", "function Assert-TaskName", "function Get-HvcTask",
                   "function Read-InstallResult", "function Find-Vm", "function Get-InnermostMessage"):
        copies = {re.search(re.escape(helper) + r".*?\n}\n", s, re.S).group(0) for s in sources if helper in s}
        assert len(copies) == 1, helper
    for variable in ("$hvcPathPattern", "$reservedSegment", "$taskNamePattern"):
        assert len({text(r) for s in sources for r in assigned(s, variable)}) == 1, variable


# -- calls, names, times, sizes ----------------------------------------------------------------

@pytest.mark.parametrize("name", PATCH + ("wrapper",))
def test_executables_get_argument_arrays(name):
    src = wrapper_text() if name == "wrapper" else body(name)
    assert native_call_problems(src) == []


@pytest.mark.parametrize("name", PATCH)
def test_vms_are_addressed_by_id_only(name):
    assert vm_by_name_problems(body(name)) == []


@pytest.mark.parametrize("name", PATCH + ("wrapper",))
def test_times_are_iso_utc_in_the_invariant_culture(name):
    src = wrapper_text() if name == "wrapper" else body(name)
    assert time_format_problems(src) == []


@pytest.mark.parametrize("name", PATCH)
def test_script_is_small_and_its_answer_deep_enough(name):
    assert len(base64.b64encode(body(name).encode("utf-8"))) < BASE64_BUDGET
    calls = [n for c, _, n in commands(body(name)) if c == "convertto-json" and "$doc" in text(n)]
    assert calls and all(int(re.search(r"-Depth (\d+)", text(c)).group(1)) >= 3 for c in calls)


@pytest.mark.parametrize("name", PATCH)
def test_failure_answer_names_where_it_stopped(name):
    code = code_only(body(name))
    assert re.search(r"hvc_error = \[ordered\]@\{ message = \(Get-InnermostMessage \$_\); where = \$where \}", body(name))
    assert code.count("[Console]::Out.Write(") == 2


# -- the installer wrapper and the task ---------------------------------------------------------

def test_no_patch_script_has_an_expanding_here_string():
    for name in PATCH:
        assert not [n for n in walk(parse(body(name)).root_node) if n.type == "expandable_here_string_literal"], name


def test_wrapper_is_clean_constant_powershell():
    src = wrapper_text()
    assert syntax_problems(src) == []
    assert {c for c, _, _ in commands(src)} & DYNAMIC_CODE_COMMANDS == set()
    assert not re.search(r"\[scriptblock\]\s*::\s*create", code_only(src), re.I)
    src.encode("ascii")
    # The text reaches the disk unchanged but for line ends, and is used nowhere else.
    install_start = code_only(body("patch_install_start"))
    assert install_start.count("$wrapperText") == 2
    assert "Write-TextFile $wrapperPath ($wrapperText -replace " in install_start


def test_wrapper_reads_exactly_the_inputs_install_start_writes():
    (rhs,) = assigned(body("patch_install_start"), "$inputs")
    written = hash_keys(next(n for n in walk(rhs) if n.type == "hash_literal_expression"))
    assert member_reads(wrapper_text(), "$in") == written
    assert array_strings(wrapper_text(), "$validMethods") == array_strings(body("patch_install_start"), "$validMethods")


def test_wrapper_installs_the_documented_way():
    src, code = wrapper_text(), code_only(wrapper_text())
    assert "'-F:*'" in src and "$_.Name -ne 'WSUSSCAN.cab'" in src
    assert src.index("$ssu = ") < src.index("$rest = ") and "$cabs = $ssu + $rest" in src
    for arg in ("'/Online'", "'/Add-Package'", "\"/PackagePath:$cabPath\"", "'/Quiet'", "'/NoRestart'"):
        assert arg in src, arg
    assert "$build -ge 26100" in code and "Add-WindowsPackage -Online -PackagePath $Package -NoRestart" in src
    assert "@($package, '/quiet', '/norestart', \"/log:$wusaLog\")" in src
    assert "[int64[]]$okCodes = @(0, 3010, 1641, 2359302)" in src and "$c += 4294967296" in src
    # Atomic: the result is written beside its final name, then renamed over it.
    assert "$tmp = $resultPath + '.tmp'" in src and "Move-Item -LiteralPath $tmp -Destination $resultPath -Force" in src
    assert src.index("[IO.File]::WriteAllText($tmp") < src.index("Move-Item -LiteralPath $tmp")


def test_task_runs_the_wrapper_as_system_with_a_fixed_command_line():
    src = body("patch_install_start")
    found = {name: (params, n) for name, params, n in commands(src)}
    # LocalSystem by SID: "SYSTEM" is localized on non-English Windows (issue 11).
    assert re.search(r"-UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest", text(found["new-scheduledtaskprincipal"][1]))
    assert "-UserId 'SYSTEM'" not in src and "-UserId SYSTEM" not in src
    assert "-Execute $powershellExe -Argument $taskArguments" in text(found["new-scheduledtaskaction"][1])
    (exe,) = assigned(src, "$powershellExe")
    assert text(exe) == "Join-Path $env:SystemRoot 'System32\\WindowsPowerShell\\v1.0\\powershell.exe'"
    (args,) = assigned(src, "$taskArguments")
    assert {text(v) for v in walk(args) if v.type == "variable"} == {"$wrapperPath"}
    assert array_strings(src, "$taskArguments") == {"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", " "}
    (path,) = assigned(src, "$wrapperPath")
    assert text(path) == "Join-Path $tasksDir ($TaskName + '.ps1')"
    assert "Protect-HvcFolder $folder" in src and "SetAccessRuleProtection($true, $false)" in src


# -- reality before action ------------------------------------------------------------------------

def _command_nodes(src: str, name: str) -> list[Node]:
    return [n for c, _, n in commands(src) if c == name.lower()]


def test_install_start_reads_task_and_result_before_it_registers():
    src = body("patch_install_start")
    (start,) = _command_nodes(src, "Start-InstallTask")
    assert guard(start) == "else"  # after "result exists" and "task running"
    main = src[src.index("\ntry {\n  $where = 'params'"):]
    assert main.index("Get-HvcTask $taskName") < main.index("Read-InstallResult $resultPath") < main.index("Start-InstallTask")
    if_text = main[main.index("if ($null -ne $result)"):main.index("$doc.state = 'started'")]
    assert "elseif ($null -ne $task -and @('Running', 'Queued') -contains [string]$task.State)" in if_text
    assert "} else {" in if_text


@pytest.mark.parametrize(("name", "cmdlet", "condition"), [
    ("patch_drain", "Hyper-V\\Save-VM", "$Request.action -eq 'save'"),
    ("patch_drain", "Hyper-V\\Stop-VM", "$Request.action -eq 'shutdown'"),
    ("patch_drain", "Hyper-V\\Move-VM", "else"),
    ("patch_restore", "Hyper-V\\Start-VM", "$startable -contains $row.state_before"),
    ("patch_restore", "Hyper-V\\Resume-VM", "$resumable -contains $row.state_before"),
    ("patch_restore", "FailoverClusters\\Resume-ClusterNode", "$result.state_before -eq 'Paused'"),
])
def test_actions_only_follow_a_check_of_the_current_state(name, cmdlet, condition):
    src = body(name)
    (node,) = _command_nodes(src, cmdlet)
    assert condition in guard(node)
    # The branch chain first asks "not Running?" (drain) / "Running already?" (restore).
    before = src[enclosing_function(node).start_byte:node.start_byte]
    first = {"patch_drain": "$runningStates -notcontains $row.state_before",
             "patch_restore": "$runningStates -contains $row.state_before"}[name]
    assert first in before or "ClusterNode" in cmdlet


def test_reboot_is_scheduled_planned_hotfix_with_a_safe_comment():
    src = body("patch_reboot")
    assert "@('/r', '/t', [string]$DelayS, '/d', 'p:2:17', '/c', $Comment)" in src
    assert "-replace '[\\x00-\\x1F\\x7F\"\\\\]', ' '" in src  # quotes and backslashes cannot split the argument
    assert "Win32_OperatingSystem" in src and "$alreadyScheduled = 1190" in src


_CODE_CONSTANT = re.compile(r"^\[int64\]\$\w+ = (\d+)(?:\s+#\s*(0x[0-9A-Fa-f]+))?", re.M)


@pytest.mark.parametrize("name", sorted(p.stem for p in SCRIPTS_DIR.glob("*.ps1")))
def test_decimal_error_codes_match_their_hex_comment(name):
    """Windows error codes are written in decimal (a hex literal above 0x7FFFFFFF is negative
    in PowerShell 5.1), which makes a wrong digit invisible: each carries its hex in a comment."""
    text = (SCRIPTS_DIR / f"{name}.ps1").read_text(encoding="utf-8")
    for value, hex_comment in _CODE_CONSTANT.findall(text):
        if int(value) > 0x7FFFFFFF:
            assert hex_comment, f"{name}: code {value} needs its '# 0x…' comment"
            assert int(value) == int(hex_comment, 16), f"{name}: {value} is not {hex_comment}"


def test_clustered_vms_move_only_through_the_cluster_node_drain():
    # Move-ClusterVirtualMachineRole "cannot be run remotely without CredSSP" (Microsoft's
    # page for it): no script moves a clustered VM per VM from the WinRM session.
    for name in PATCH:
        assert not _command_nodes(body(name), "FailoverClusters\\Move-ClusterVirtualMachineRole"), name
        assert "move-clustervirtualmachinerole" not in code_only(body(name)).lower().replace("#", ""), name
    src = body("patch_drain")
    (drain,) = _command_nodes(src, "FailoverClusters\\Suspend-ClusterNode")
    assert "-Drain" in text(drain)
    (move,) = _command_nodes(src, "Hyper-V\\Move-VM")
    assert guard(move) == "else"
    branch = src[src.index("} elseif ($vm.IsClustered) {"):src.index("Hyper-V\\Move-VM")]
    assert "moves only through the cluster" in branch


def test_preflight_checks_planned_live_migrations_with_compare_vm():
    src = body("patch_preflight")
    (compare,) = _command_nodes(src, "Hyper-V\\Compare-VM")
    assert "-VM $vm -DestinationHost $m.destination" in text(compare)
    assert guard(compare) == "else"         # after "not here", "clustered" and "migration disabled"
    assert "$migrations = Read-Migrations $params.live_migrations" in src
    assert "[guid]::Parse([string]$item.id)" in src and "-notmatch $hostNamePattern" in src
    (pattern,) = assigned(src, "$hostNamePattern")
    (drain_pattern,) = assigned(body("patch_drain"), "$hostNamePattern")
    assert text(pattern) == text(drain_pattern)
    assert "VirtualMachineMigrationAuthenticationType" in src and "VirtualMachineMigrationEnabled" in src
