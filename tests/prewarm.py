"""Rewrite the test modules' asserts once, before the xdist workers start.

Every worker imports every test module, and pytest rewrites each module's asserts the first
time (about 5 s of CPU for this suite) and caches the result in ``__pycache__``. On a fresh
checkout all workers start at once, find no cache, and each rewrites the whole suite: six
workers, six times the work, on two cores. Done once here, split over two processes, the
workers find the cache and only load it.

This reaches into pytest's assertion-rewrite module (no public API does this); should
that change, nothing is prepared and the workers rewrite as they always did.

Run as a script, it rewrites the files named on its command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROCESSES = 2
TIMEOUT_S = 120


def files_to_rewrite(config: pytest.Config) -> list[Path]:
    """The modules pytest rewrites on import among the paths this run collects (the
    command line's, else the configured test paths): test files and conftest.py, whose
    rewritten copy is missing or out of date."""
    from _pytest.assertion.rewrite import PYC_TAIL, _read_pyc
    patterns = [*config.getini("python_files"), "conftest.py"]
    here = config.invocation_params.dir
    found: set[Path] = set()
    for arg in config.args:
        base = (here / arg.split("::", 1)[0]).resolve()
        if base.is_file():
            found.add(base)
        elif base.is_dir():
            for pattern in patterns:
                found.update(p for p in base.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(p for p in found if p.suffix == ".py"
                  and _read_pyc(p, p.parent / "__pycache__" / (p.name[:-3] + PYC_TAIL)) is None)


def rewrite_before_workers(config: pytest.Config) -> None:
    """Rewrite what needs it in ``PROCESSES`` child processes and wait for them."""
    if sys.dont_write_bytecode or config.getini("enable_assertion_pass_hook"):
        return          # nothing would be cached for the workers, or they rewrite differently
    try:
        files = files_to_rewrite(config)
    except Exception:  # pytest internals moved: the workers rewrite as before
        return
    if not files:
        return
    shares = [files[i::PROCESSES] for i in range(PROCESSES)]
    procs = [subprocess.Popen([sys.executable, __file__, *map(str, share)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for share in shares if share]
    for proc in procs:
        try:
            proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _rewrite(paths: list[str]) -> None:
    from _pytest.assertion.rewrite import PYC_TAIL, _rewrite_test, _write_pyc

    class _Quiet:       # _write_pyc reports only through the assertion state's trace
        @staticmethod
        def trace(message: str) -> None:
            pass

    for name in paths:
        path = Path(name)
        cache = path.parent / "__pycache__"
        cache.mkdir(exist_ok=True)
        source_hash, code = _rewrite_test(path, None)  # type: ignore[arg-type]  # as a worker without ini options
        _write_pyc(_Quiet, code, source_hash, cache / (path.name[:-3] + PYC_TAIL))  # type: ignore[arg-type]


if __name__ == "__main__":
    _rewrite(sys.argv[1:])
