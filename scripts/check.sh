#!/usr/bin/env bash
# The static checks, in the order scripts/test.sh runs them before the tests (CI runs that
# script): the import contracts, ruff and mypy. Runs on its own once .venv exists.
# docs/house-rules.md says what each checks and why.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== import contracts"
.venv/bin/lint-imports
# ruff and mypy check the same paths, listed once: [tool.mypy] files in pyproject.toml.
mapfile -t checked < <(.venv/bin/python -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["tool"]["mypy"]["files"]))')
# A failed read must not leave ruff without paths: it would then check the whole tree.
[ ${#checked[@]} -gt 0 ] || { echo "no paths in [tool.mypy] files of pyproject.toml" >&2; exit 1; }
echo "== ruff"
.venv/bin/ruff check "${checked[@]}"
echo "== mypy"
.venv/bin/mypy
