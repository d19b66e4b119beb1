"""Try a built bundle the way the admin would, and time it: the console twin answers
``--help``, reads a recorded trace, polls a demo host; the window opens, draws and saves a
screenshot. Every run is bounded and uses a throw-away ``HVCONSOLE_HOME`` so that it never
touches the real inventory.

    python installer/smoke.py dist/hvconsole [--demo-seconds 8] [--screenshot out.png]

``build.py --smoke`` runs it after a build. Timings are printed, never judged.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TRACE = ROOT / "tests" / "fixtures" / "contracts" / "example-trace.jsonl"
# Generous: a cold start of a frozen Qt app on a loaded 2-core machine or a virus-scanned
# Windows PC can take many seconds; a hang must still end.
RUN_TIMEOUT_S = 120.0


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    # What a successful run printed on stderr: in a bundle that is usually a file or Qt
    # plugin it did not find (shown, not judged: some platforms chatter).
    warning: str = ""


def executable(bundle: Path, name: str) -> Path:
    """``bundle/name`` (``name.exe`` on Windows; inside ``Contents/MacOS`` for a .app)."""
    suffix = ".exe" if sys.platform == "win32" else ""
    candidates = [bundle / f"{name}{suffix}", bundle / "Contents" / "MacOS" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no {name}{suffix} in {bundle}")


def bundle_size(bundle: Path) -> int:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HVCONSOLE_HOME"] = str(home)
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _run(name: str, argv: list[str], env: dict[str, str], judge) -> Check:
    start = time.perf_counter()
    try:
        # stdin: end of file at once. The demo site's own process serves until its stdin ends,
        # and nothing here should wait on the terminal the smoke check was started from.
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Check(name, False, time.perf_counter() - start, f"no answer within {RUN_TIMEOUT_S:.0f} s")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return Check(name, False, seconds, f"exit {proc.returncode}: " + " | ".join(tail))
    problem = judge(proc.stdout)
    warning = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return Check(name, problem is None, seconds, problem or "", warning)


def _expect_text(text: str):
    return lambda out: None if text in out else f"output lacks {text!r}"


def _expect_snapshot(out: str):
    try:
        doc = json.loads(out)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if doc.get("reachable") is not True or not str(doc.get("schema", "")).startswith("hvconsole.snapshot/"):
        return f"unexpected snapshot: reachable={doc.get('reachable')!r} schema={doc.get('schema')!r}"
    return None


def _expect_demo_hosts(out: str):
    """The demo site's own process (``--serve-demo-child``, as the window starts it): its
    first line names the hosts it serves. Never quoted back: that line holds their passwords."""
    try:
        doc = json.loads(out.splitlines()[0]) if out.strip() else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list) or not doc["hosts"]:
        return "no hosts line"
    return None


def _expect_png(path: Path):
    def judge(_out: str):
        if not path.is_file() or path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            return f"no PNG written at {path}"
        return None
    return judge


def run_checks(bundle: Path, screenshot: Path, demo_seconds: float) -> list[Check]:
    cli = str(executable(bundle, "hvconsole-cli"))
    gui = str(executable(bundle, "hvconsole"))
    first_paint = screenshot.with_name(screenshot.stem + "-welcome.png")
    with tempfile.TemporaryDirectory(prefix="hvconsole-smoke-") as home:
        env = _environment(Path(home))
        checks = [
            _run("cli --help", [cli, "--help"], env, _expect_text("usage:")),
            _run("cli collect --demo HV01 --json", [cli, "collect", "--demo", "HV01", "--json"],
                 env, _expect_snapshot),
            # The window's demo is served by the console twin so (hvconsole.sim.child): it
            # starts, serves, says its hosts and ends when its stdin does.
            _run("demo site's own process", [cli, "--serve-demo-child", "demo", "1"], env, _expect_demo_hosts),
            # --after 0: start, first paint, screenshot, quit; the nearest thing to "start time".
            _run("window: start to first screenshot", [gui, "--screenshot", str(first_paint), "--after", "0"],
                 env, _expect_png(first_paint)),
            _run(f"window --demo, screenshot after {demo_seconds:g} s",
                 [gui, "--demo", "--screenshot", str(screenshot), "--after", str(demo_seconds)],
                 env, _expect_png(screenshot)),
        ]
        if EXAMPLE_TRACE.is_file():  # only in a source checkout
            checks.insert(1, _run("cli detect example-trace.jsonl", [cli, "detect", str(EXAMPLE_TRACE)],
                                  env, _expect_text("finding")))
    return checks


def report(bundle: Path, checks: list[Check]) -> str:
    lines = [f"bundle {bundle}: {bundle_size(bundle) / 2**20:.0f} MiB"]
    for c in checks:
        label = "FAIL" if not c.ok else "warn" if c.warning else "ok  "
        note = c.detail or (f"stderr: {c.warning}" if c.warning else "")
        lines.append(f"  {label} {c.seconds:6.2f} s  {c.name}" + (f"  ({note})" if note else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a built hvconsole bundle once and time it.")
    parser.add_argument("bundle", type=Path, help="the onedir bundle, e.g. dist/hvconsole")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="where the demo screenshot goes (default: beside the bundle)")
    parser.add_argument("--demo-seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    screenshot = (args.screenshot or args.bundle.parent / "smoke-demo.png").resolve()
    checks = run_checks(args.bundle.resolve(), screenshot, args.demo_seconds)
    print(report(args.bundle, checks))
    print(f"screenshots: {screenshot} and {screenshot.with_name(screenshot.stem + '-welcome.png')}")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
