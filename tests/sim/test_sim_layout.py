"""The simulator's modules import one another without a circle, annotations included.

import-linter's layers contracts (pyproject.toml) keep the subpackages in order (cli over
serve and record, over scenarios and the host agent, over the model and the endpoint) and the
model's modules too; this test covers every module, in every subpackage, so that a new one
cannot bring back a circle like the one the model's site, host, VM, patch state and
installer used to form.
"""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def sim_imports() -> dict[str, set[str]]:
    # Imports under `if TYPE_CHECKING:` count: a circle of annotations is still a circle to
    # a reader (and to import-linter).
    graph = grimp.build_graph("hvconsole", cache_dir=None)
    sim = {m for m in graph.modules if m == "hvconsole.sim" or m.startswith("hvconsole.sim.")}
    return {m: {i for i in graph.find_modules_directly_imported_by(m) if i in sim} for m in sim}


def circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_circles_finds_a_circle_and_only_it() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_simulator_module_imports_itself_back(sim_imports) -> None:
    assert "hvconsole.sim.model.host" in sim_imports, "the graph did not see the simulator"
    assert circles(sim_imports) == []
