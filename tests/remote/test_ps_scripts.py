"""Static checks of the shipped PowerShell scripts.

No PowerShell runs on these machines, so the scripts must be right by construction for
Windows PowerShell 5.1. These tests parse every ``scripts/*.ps1`` (and the loader text the
client really sends) with tree-sitter-powershell and check the rules of
docs/architecture.md ("Running a shipped script") and docs/collection-script.md: clean
syntax, the fixed header, parameters as data, one JSON document on stdout, an explicit
exit code, nothing newer than 5.1, and a body small enough for one environment variable.
Each checker is also shown to fail on a bad snippet, so a green run means something.
The checks specific to ``collect.ps1`` (its contract keys, filters, bounded query) are in
``test_ps_collect.py``, which reuses the helpers here.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from hvconsole.remote import loader

# Bodies travel base64-encoded in one shell environment variable each (architecture.md).
ENV_VAR_BUDGET = 30_000
SCRIPTS = loader.shipped_scripts()
PARAM_LINE = "param([Parameter(Mandatory=$true)][string]$HvcParams)"
# collect.ps1 also runs as the collect loop (docs/collection-script.md "Loop mode"): the
# loader passes either -HvcParams or -HvcLoop, so neither is mandatory.
LOOP_PARAM_LINE = "param([string]$HvcParams, [switch]$HvcLoop)"
LOOP_SCRIPTS = frozenset({"collect"})
# Spacing around '=' carries no meaning in PowerShell; the order and the values do.
PREFERENCE_LINE = re.compile(r"\$ProgressPreference\s*=\s*'SilentlyContinue';\s*\$ErrorActionPreference\s*=\s*'Stop'")

_PARSER = Parser(Language(tree_sitter_powershell.language()))

# Commands that turn text into code, or load code, at run time.
DYNAMIC_CODE_COMMANDS = {"invoke-expression", "iex", "add-type"}
# Commands that write to the host or the success stream: stdout must carry one JSON document.
STDOUT_WRITERS = {"write-host", "write-output", "echo", "write", "out-host", "out-default",
                  "write-information", "out-string", "format-table", "format-list"}
# (command, parameter) pairs that exist only in PowerShell 6+; hosts run 5.1.
NEWER_THAN_51 = {
    ("convertto-json", "-asarray"), ("convertto-json", "-enumsasstrings"),
    ("convertto-json", "-escapehandling"), ("convertfrom-json", "-ashashtable"),
    ("convertfrom-json", "-depth"), ("convertfrom-json", "-noenumerate"),
    ("foreach-object", "-parallel"), ("get-date", "-asutc"), ("get-date", "-unixtimeseconds"),
}
NEWER_THAN_51_COMMANDS = {"get-error", "join-string", "test-json", "get-uptime"}
# Top-level statements of these shapes cannot write to the success stream.
SILENT_CALL = re.compile(r"^(\[void\]|\[Console\]::Out\.(Write|Flush)\(|\[Environment\]::Exit\()", re.I)


# -- helpers ----------------------------------------------------------------------------

def parse(src: str | bytes):
    return _PARSER.parse(src.encode("utf-8") if isinstance(src, str) else src)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    return node.text.decode("utf-8")


def same(a: Node | None, b: Node | None) -> bool:
    """Node identity (tree-sitter hands out a new Python object on every access)."""
    return a is not None and b is not None and (a.start_byte, a.end_byte, a.type) == (b.start_byte, b.end_byte, b.type)


def syntax_problems(src: str | bytes) -> list[str]:
    """Every ERROR or MISSING node as 'line:col kind text'; empty when the parse is clean."""
    return [f"{n.start_point[0] + 1}:{n.start_point[1] + 1} {'MISSING' if n.is_missing else 'ERROR'} {text(n)[:60]!r}"
            for n in walk(parse(src).root_node) if n.type == "ERROR" or n.is_missing]


def commands(src: str) -> list[tuple[str, list[str], Node]]:
    """(lower-case command name, lower-case -parameters, node) for every command."""
    found = []
    for n in walk(parse(src).root_node):
        if n.type == "command":
            name = next((c for c in n.children if c.type == "command_name"), None)
            if name is None:
                continue
            params = [text(c).lower() for c in walk(n) if c.type == "command_parameter"]
            found.append((text(name).lower(), params, n))
    return found


def code_only(src: str) -> str:
    """The script with comments and string literals blanked, so prose cannot match."""
    chars = list(src.encode("utf-8"))
    for n in walk(parse(src).root_node):
        if n.type in ("comment", "string_literal"):
            chars[n.start_byte:n.end_byte] = b" " * (n.end_byte - n.start_byte)
    return bytes(chars).decode("utf-8")


def top_statements(src: str) -> list[Node]:
    root = parse(src).root_node
    body = next(c for c in root.children if c.type == "statement_list")
    return [c for c in body.named_children if c.type not in ("comment", "empty_statement")]


def output_leaks(src: str) -> list[str]:
    """Script-level statements that could write to the success stream (which the loader
    prints on stdout beside the JSON). Function bodies return values on purpose and are
    not checked; control-flow bodies at script level are. ``$x.Add(...)`` passes only when
    ``$x`` was built as a generic List, whose Add returns nothing (ArrayList's returns an
    index, HashSet's a bool)."""
    leaks: list[str] = []
    lists = set(re.findall(r"(\$\w+)\s*=\s*(?:New-Object\s+'?System\.|\[(?:System\.)?)Collections\.Generic\.List\[", src))

    def check(statements: list[Node]) -> None:
        for st in statements:
            if st.type in ("comment", "empty_statement", "function_statement", "param_block"):
                continue
            if st.type == "flow_control_statement":
                if not re.match(r"^(exit\s+\d+|throw\b)", text(st), re.I):
                    leaks.append(text(st)[:80])
                continue
            if st.type == "pipeline":
                first = st.named_children[0] if st.named_children else None
                add = re.match(r"^(\$\w+)\.Add\(", text(st))
                if (first is not None and first.type == "assignment_expression") or SILENT_CALL.match(text(st)) \
                        or (add and add.group(1) in lists):
                    continue
                leaks.append(text(st)[:80])
                continue
            blocks = [n for n in walk(st) if n.type == "statement_block" and same(owner(n), st)]
            if not blocks:
                leaks.append(text(st)[:80])
            for block in blocks:
                check(_statements(block))

    check(top_statements(src))
    return leaks


def ends_with_exit(statements: list[Node]) -> bool:
    """True when falling off the end of these statements always meets an ``exit N``."""
    statements = [s for s in statements if s.type not in ("comment", "empty_statement")]
    if not statements:
        return False
    last = statements[-1]
    if last.type == "flow_control_statement":
        return bool(re.fullmatch(r"exit\s+\d+", text(last), re.I))
    if last.type == "try_statement":
        blocks = [n for n in walk(last) if n.type == "statement_block" and same(owner(n), last)]
        if any(c.type == "finally_clause" for c in walk(last) if same(owner(c), last)):
            return False
        return all(ends_with_exit(_statements(b)) for b in blocks)
    return False


def _statements(block: Node) -> list[Node]:
    inner = next((c for c in block.named_children if c.type == "statement_list"), None)
    return inner.named_children if inner is not None else []


def owner(block: Node) -> Node | None:
    """The nearest enclosing statement of a statement_block (if/try/foreach/...)."""
    n = block.parent
    while n is not None and n.type not in ("if_statement", "try_statement", "foreach_statement",
                                            "while_statement", "for_statement", "do_statement",
                                            "switch_statement", "function_statement", "pipeline"):
        n = n.parent
    return n


@lru_cache(maxsize=None)
def body(name: str) -> str:
    return loader.script_body(name)


def loader_text(script: str, params: dict) -> str:
    encoded = loader.prepare_call(script, params).arguments.rsplit(" ", 1)[1]
    return base64.b64decode(encoded).decode("utf-16-le")


# -- the checkers can fail --------------------------------------------------------------

@pytest.mark.parametrize("snippet", [
    "if ($x { 1 }\n",
    "$h = @{ a = 1\n",
    "function Get-X( { }\n",
    "Select-Object Name, CPUUsage\n",  # tree-sitter's known blind spot: we write the quoted form
])
def test_syntax_check_reports_broken_snippets(snippet):
    assert syntax_problems(snippet)


def test_syntax_check_accepts_the_forms_the_scripts_use():
    assert syntax_problems("Select-Object -Property 'Name','CPUUsage'\n$x = [ordered]@{ a = 1 }\n") == []


def test_leak_check_reports_stray_output():
    src = ("$l = [Collections.Generic.List[string]]::new()\n$a = New-Object System.Collections.ArrayList\n"
           "$l.Add('fine')\n$a.Add(3)\nif ($l) { Get-Date }\ntry { 'oops' } catch { $l.Add('x') }\nexit 0\n")
    assert output_leaks(src) == ["$a.Add(3)", "Get-Date", "'oops'"]


@pytest.mark.parametrize(("snippet", "expected"), [
    ("$x = 1\nexit 0\n", True),
    ("try { exit 0 } catch { exit 1 }\n", True),
    ("try { exit 0 } catch { 'x' }\n", False),
    ("$x = 1\nexit\n", False),
    ("exit 0\n$x = 1\n", False),
])
def test_exit_check(snippet, expected):
    assert ends_with_exit(top_statements(snippet)) is expected


def test_dynamic_code_check_sees_aliases_and_the_type_accelerator():
    snippet = "iex $t\nAdd-Type -TypeDefinition $c\n& ([ScriptBlock]::Create($t))\n"
    assert {name for name, _, _ in commands(snippet)} & DYNAMIC_CODE_COMMANDS == {"iex", "add-type"}
    assert re.search(r"\[scriptblock\]\s*::\s*create", code_only(snippet), re.I)


# -- every shipped script ---------------------------------------------------------------

def test_the_package_ships_the_collection_script():
    assert "collect" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_parses_without_errors(name):
    assert syntax_problems(body(name)) == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_starts_with_the_fixed_header(name):
    lines = body(name).splitlines()
    assert lines[0] == f"# hvconsole-script: {name}"
    assert lines[1] == (LOOP_PARAM_LINE if name in LOOP_SCRIPTS else PARAM_LINE)
    assert PREFERENCE_LINE.fullmatch(lines[2])


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_ends_with_an_explicit_exit_code(name):
    assert ends_with_exit(top_statements(body(name)))
    # A bare `exit` loses the code (winrm-notes: codes above 1 need an explicit exit N).
    exits = [text(n) for n in walk(parse(body(name)).root_node) if n.type == "flow_control_statement"
             and text(n).lower().startswith("exit")]
    assert all(re.fullmatch(r"exit\s+\d+", e, re.I) for e in exits), exits


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_never_turns_text_into_code(name):
    src = body(name)
    assert {c for c, _, _ in commands(src)} & DYNAMIC_CODE_COMMANDS == set()
    assert not re.search(r"\[scriptblock\]\s*::\s*create", code_only(src), re.I)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_writes_nothing_to_stdout_but_its_json(name):
    src = body(name)
    assert output_leaks(src) == []
    assert {c for c, _, _ in commands(src)} & STDOUT_WRITERS == set()


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_uses_only_windows_powershell_51_syntax(name):
    src = body(name)
    assert not [n for n in walk(parse(src).root_node) if n.type == "pipeline_chain_tail"], "&& / || is PowerShell 7"
    used = {(c, p) for c, params, _ in commands(src) for p in params}
    assert used & NEWER_THAN_51 == set()
    assert {c for c, _, _ in commands(src)} & NEWER_THAN_51_COMMANDS == set()


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_plain_ascii(name):
    # Typographic quotes count as quotes in PowerShell; keep the text unambiguous.
    raw = (resources.files("hvconsole.remote.scripts") / f"{name}.ps1").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("ascii")


@pytest.mark.parametrize("name", SCRIPTS)
def test_encoded_body_fits_one_environment_variable(name):
    encoded = loader.shell_environment((name,))[loader.env_var_name(name)]
    assert len(encoded) < ENV_VAR_BUDGET
    assert gzip.decompress(base64.b64decode(encoded)).decode("utf-8") == body(name)


@pytest.mark.parametrize("params", [
    {"events_since": None, "max_events": 100, "vm_query_timeout_ms": 10000},
    {"events_since": "2025-05-23T10:00:00.000Z", "max_events": 50, "vm_query_timeout_ms": 8000,
     "padding": "x" * (loader.INLINE_PARAMS_MAX * 2)},  # long enough to travel on stdin
], ids=["inline", "stdin"])
def test_loader_text_parses(params):
    src = loader_text("collect", params)
    assert syntax_problems(src) == []
    assert "$env:HVC_SCRIPT_COLLECT" in src
    assert ("[Console]::In.ReadToEnd()" in src) == ("padding" in params)
