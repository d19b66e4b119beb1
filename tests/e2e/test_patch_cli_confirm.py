"""``hvconsole patch run`` never touches a host before the admin says so: it prints the
actions per host and asks; without a terminal it refuses unless --yes; --dry-run only
prints; a package file that does not exist is refused when the plan is made. Against the
embedded demo site (its own journal), as a new user would type it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest

from test_patch_support import LATENCY_SCALE, home, patch_cli  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
KB = "KB5061906"
DEMO = ("--demo", "--demo-speed", "300")
PLAN = ("--kb", KB, "--pilot", "HV01", "--wave", "production=HV05")


def cli_env() -> dict[str, str]:
    """This test's environment (its home) with the embedded demo's host latencies scaled down
    (``LATENCY_SCALE``): these runs prove what is printed and asked, not timings
    (docs/performance.md, "Test suite")."""
    return dict(os.environ, HVCONSOLE_SIM_LATENCY_SCALE=str(LATENCY_SCALE))


def cli(*args: str, stdin: int | None = subprocess.DEVNULL, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(patch_cli() + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=stdin, env=cli_env())


def demo_runs(home) -> int:
    from hvconsole.core.patch.journal import Journal
    path = home / "data" / "demo" / "patch-journal.sqlite"
    if not path.exists():
        return 0
    with Journal(path) as journal:
        return len(journal.runs())


def test_missing_package_file_is_refused_by_plan_and_run(home, tmp_path):
    missing = tmp_path / "windows10.0-kb5061906-x64.msu"
    for command in (("plan", "-o", str(tmp_path / "p.json")), ("run", "--yes")):
        out = cli(*command, *PLAN, "--package", str(missing))
        assert out.returncode == 2 and "does not exist" in out.stderr and str(missing) in out.stderr, out
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "p.json").exists()


def test_dry_run_prints_the_actions_and_starts_nothing(home):
    out = cli("run", *DEMO, *PLAN, "--dry-run")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "HV01 [pilot]" in text and "HV05 [production]" in text
    assert text.index("HV01 [pilot]") < text.index("HV05 [production]")
    assert f"installs {KB} from C:\\hvconsole\\packages\\" in text and "reboots" in text
    assert "saves " in text and "VM downtime (estimates" in text
    assert "dry run: nothing was started" in text and "Start run?" not in text
    assert demo_runs(home) == 0


def test_without_a_terminal_run_refuses_unless_yes(home):
    out = cli("run", *DEMO, *PLAN)
    assert out.returncode == 2 and "--yes" in out.stderr and "no terminal" in out.stderr, out
    assert "HV01 [pilot]" in out.stdout          # it showed what it would have done
    assert demo_runs(home) == 0


@pytest.mark.skipif(os.name == "nt", reason="a pseudo-terminal")
def test_on_a_terminal_it_asks_and_no_means_nothing_started(home):
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(patch_cli() + ["run", *DEMO, *PLAN], stdin=slave, stdout=slave, stderr=slave,
                            env=cli_env(), close_fds=True)
    os.close(slave)
    seen = b""
    try:
        seen = _read_until(master, b"Start run? [y/N]", proc)
        os.write(master, b"n\n")
        seen += _read_until(master, b"not started", proc)
        assert proc.wait(timeout=60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"HV01 [pilot]" in seen
    assert demo_runs(home) == 0


def test_promote_and_halt_answer_only_a_run_waiting_for_it(home):
    out = cli("promote", "1", "--demo")
    assert out.returncode == 2 and "no patch run 1" in out.stderr
    from hvconsole.core.patch.journal import Journal
    from hvconsole.patch.engine import open_journal
    with open_journal(home / "data" / "demo" / "patch-journal.sqlite") as journal:
        run_id = journal.create_run(KB, {"waves": [{"name": "pilot", "hosts": ["HV01"]}], "kb": KB})
    out = cli("halt", str(run_id), "--demo")
    assert out.returncode == 2 and "not waiting for promotion" in out.stderr
    with Journal(home / "data" / "demo" / "patch-journal.sqlite") as journal:
        journal.set_run_state(run_id, "awaiting-promotion")
    out = cli("halt", str(run_id), "--demo")
    assert out.returncode == 0 and "halted by the admin after the pilot" in out.stdout, out
    status = cli("status", str(run_id), "--demo")
    assert "cancelled" in status.stdout and "halted by the admin after the pilot" in status.stdout
    assert "no patch runs yet" in cli("status").stdout          # the real journal knows no demo run


def _read_until(fd: int, marker: bytes, proc: subprocess.Popen, timeout_s: float = 120.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout_s
    while marker not in out:
        assert time.monotonic() < deadline and proc.poll() is None, out.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
