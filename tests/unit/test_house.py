"""The house rules that no linter checks (docs/house-rules.md).

1. PowerShell helpers copied between the shipped scripts stay identical. Each script is
   sent and run on its own (one environment variable per script, see remote/loader.py) and
   is checked on its own by tests/remote/test_ps_scripts.py, so helpers such as
   ``Get-InnermostMessage``, ``Find-Vm`` or ``Assert-HvcPath`` are copied into every script
   that needs them. One name means one text: a fix made in one copy must be made in all,
   and two different functions must not share a name.
2. The ``hvc_error`` epilogue (the top-level ``catch`` that turns any failure into one JSON
   document and exit code 1, then the success write) is the same text in every script that
   uses it, per kind (with or without abandoned pipelines to leave behind).
3. Every package of hvconsole has its place in the import-linter layer order (or is the
   simulator beside it), so a new package cannot slip past the contract unordered.
4. ruff and mypy check all of hvconsole (one path in ``[tool.mypy] files``, which
   scripts/check.sh hands to ruff too), and scripts/test.sh runs that check before the tests.

Each checker is shown to fail on a drifted sample, so a green run means something.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

import hvconsole
from hvconsole.remote import loader

_PARSER = Parser(Language(tree_sitter_powershell.language()))
ROOT = Path(__file__).resolve().parents[2]


# -- PowerShell helpers -----------------------------------------------------------------

def _functions(body: str) -> dict[str, str]:
    """Every ``function`` of a script (nested ones too), name -> text. The text is dedented
    by the function's own column: a helper defined inside a runspace's script block is
    the same helper as one at the top level (indentation means nothing to PowerShell)."""
    src = body.encode("utf-8")
    found: dict[str, str] = {}

    def walk(node: Node) -> None:
        if node.type == "function_statement":
            name = next(c for c in node.children if c.type == "function_name")
            text = src[node.start_byte:node.end_byte].decode("utf-8")
            column = node.start_point[1]
            found[src[name.start_byte:name.end_byte].decode("utf-8").lower()] = \
                textwrap.dedent(" " * column + text)
        for child in node.children:
            walk(child)

    walk(_PARSER.parse(src).root_node)
    return found


def helper_drift(bodies: dict[str, str]) -> list[str]:
    """One line per helper whose copies differ: its name and which scripts hold which text."""
    copies: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for script, body in bodies.items():
        for name, text in _functions(body).items():
            copies[name][text].append(script)
    return [f"{name}: {len(texts)} different texts: " + " / ".join(", ".join(s) for s in texts.values())
            for name, texts in sorted(copies.items()) if len(texts) > 1]


@lru_cache(maxsize=1)
def shipped_bodies() -> dict[str, str]:
    return {name: loader.script_body(name) for name in loader.shipped_scripts()}


def test_helpers_copied_between_scripts_are_identical():
    assert helper_drift(shipped_bodies()) == []


def test_the_shared_helpers_really_are_shared():
    """The guard is about real copies: the helpers the issue names appear in many scripts."""
    holders = defaultdict(list)
    for script, body in shipped_bodies().items():
        for name in _functions(body):
            holders[name].append(script)
    assert len(holders["get-innermostmessage"]) >= 10
    assert len(holders["assert-hvcpath"]) >= 4
    assert len(holders["find-vm"]) >= 3


def test_helper_drift_is_caught():
    a = "function Find-Vm([guid]$Id) {\n  return Get-VM -Id $Id\n}\n"
    b = "function Find-Vm([guid]$Id) {\n  return (Get-VM -Id $Id)\n}\n"
    nested = "$q = {\n  function Find-Vm([guid]$Id) {\n    return Get-VM -Id $Id\n  }\n}\n"
    assert helper_drift({"one": a, "two": a, "three": nested}) == []       # indentation is not drift
    drift = helper_drift({"one": a, "two": b, "three": a})
    assert len(drift) == 1 and drift[0].startswith("find-vm: 2 different texts")
    assert "one, three" in drift[0] and "two" in drift[0]


# -- the hvc_error epilogue ---------------------------------------------------------------

_SHARED_CATCH = "$failure = [ordered]@{ hvc_error = [ordered]@{ message = (Get-InnermostMessage $_); where = $where } }"


def epilogue(body: str) -> str | None:
    """The text from the top-level ``} catch {`` that reports ``hvc_error`` to the end of
    the script, comments and blank lines left out (they explain, they do not run); None for
    a script without the shared form."""
    at = body.find(_SHARED_CATCH)
    if at < 0:
        return None
    start = body.rfind("\n} catch {", 0, at)
    if start < 0:       # the catch is not at the top level (collect: inside its poll function)
        return None
    lines = body[start:].splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


def epilogue_drift(bodies: dict[str, str]) -> list[str]:
    kinds: dict[bool, dict[str, list[str]]] = {True: defaultdict(list), False: defaultdict(list)}
    for script, body in bodies.items():
        text = epilogue(body)
        if text is not None:
            kinds["$abandoned" in text][text].append(script)
    return [f"{'with' if kind else 'without'} abandoned pipelines: "
            + " / ".join(", ".join(s) for s in texts.values())
            for kind, texts in kinds.items() if len(texts) > 1]


def test_the_hvc_error_epilogue_is_one_text_per_kind():
    bodies = shipped_bodies()
    assert epilogue_drift(bodies) == []
    users = [name for name, body in bodies.items() if epilogue(body) is not None]
    # probe and doctor keep their own, older envelope (the outer message, a fixed `where`);
    # collect reports the same document from inside its poll function, which its one-shot
    # path and its loop mode share (the loop must never exit inside a poll:
    # tests/remote/test_collect_loop_script.py); every other script uses the shared one.
    assert set(bodies) - set(users) == {"probe", "doctor", "collect"}


def test_epilogue_drift_is_caught():
    good = ("try {\n  $where = 'x'\n  $json = '{}'\n} catch {\n  " + _SHARED_CATCH + "\n"
            "  [Console]::Out.Write((ConvertTo-Json -InputObject $failure -Compress))\n  exit 1\n}\n"
            "[Console]::Out.Write($json)\nexit 0\n")
    commented = good.replace("exit 0", "# done\nexit 0")
    assert epilogue_drift({"a": good, "b": commented}) == []
    assert epilogue_drift({"a": good, "b": good.replace("exit 1", "exit 2")}) != []


# -- the layer order --------------------------------------------------------------------

def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def test_every_package_has_its_place_in_the_layer_order():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    placed = {m for layer in layers for m in re.split(r"\s*[|:]\s*", layer)} | {"hvconsole.sim"}
    packages = {f"hvconsole.{p.name}" for p in Path(hvconsole.__file__).parent.iterdir()
                if (p / "__init__.py").is_file()}
    assert packages - placed == set(), "a package outside the layer order (pyproject.toml, docs/house-rules.md)"


def test_the_simulator_is_beside_the_stack_not_in_it():
    contracts = _contracts()
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert "hvconsole.sim" not in layers
    door = next(c for c in contracts if c["name"].startswith("only hvconsole.site"))
    assert door["forbidden_modules"] == ["hvconsole.sim"]
    assert "hvconsole.site" not in door["source_modules"]


def _mypy_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["mypy"]


def test_lint_and_type_check_cover_all_of_hvconsole():
    # One path, the whole package, nothing left out: a new module is checked from its first commit.
    config = _mypy_config()
    assert config["files"] == ["hvconsole"]
    assert "exclude" not in config


def test_ruff_checks_what_mypy_checks_and_the_test_script_runs_both():
    # One list of paths ([tool.mypy] files), read by scripts/check.sh for ruff too.
    check = (ROOT / "scripts" / "check.sh").read_text(encoding="utf-8")
    assert '["tool"]["mypy"]["files"]' in check
    assert re.search(r'^\.venv/bin/ruff check "\$\{checked\[@\]\}"$', check, re.M)
    assert re.search(r"^\.venv/bin/mypy$", check, re.M)
    assert re.search(r"^\.venv/bin/lint-imports$", check, re.M)
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert re.search(r"^bash scripts/check\.sh$", script, re.M)
