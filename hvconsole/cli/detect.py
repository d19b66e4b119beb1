"""``hvconsole detect TRACE.jsonl``: run the freeze detector over a recorded trace and
print what it found, as a table or (``--json``) as a findings-v1 document.

The trace is streamed (a 100 MB trace is read in bounded memory); ``-`` reads stdin.
Exit 0 whether or not something was found. A bad line (not JSON, not a snapshot, or
``polled_at`` going back for its host) is a warning on stderr naming the line, and is
skipped. It is fatal (exit 2) only when ``--strict`` is given, or when the input holds no
valid snapshot at all (then it is not a trace; an empty file included). Unreadable input or
thresholds: exit 2. Text from the file (host names inside a problem) is printed through
the detector's ``clean`` so it cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import IO, TYPE_CHECKING

from hvconsole.cli.common import clean

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.core.detector import Detector, Finding, Thresholds
    from hvconsole.core.trace import BadLine

# The detector and the trace reader are imported by the handler: building the parser
# (every `hvconsole` command, `--help` included) does not pay for them.

PROG = "hvconsole detect"
MAX_LINE_WARNINGS = 20  # then only a count: a broken file must not flood the terminal
COLUMN_MAX = {"host": 20, "vm": 28, "evidence": 110}


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser(
        "detect", help="find frozen VMs and hosts in a recorded trace",
        description="Run the freeze detector over a recorded trace (JSON Lines of snapshots) "
                    "and print what it found: a table, or a findings-v1 document with --json.",
        epilog="Exit status: 0 whether or not something was found; 2 when the trace or the "
               "thresholds cannot be read, when the input holds no valid snapshot, or at the "
               "first bad line with --strict. Other bad lines are skipped with a warning.")
    p.add_argument("trace", metavar="TRACE.jsonl", help="the trace to read ('-' for standard input)")
    p.add_argument("--json", action="store_true", help="print a findings-v1 JSON document")
    p.add_argument("--thresholds", metavar="FILE.json",
                   help="JSON object overriding detector thresholds (see docs/freeze-detection.md)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line (exit 2)")
    p.set_defaults(handler=run)


class _LineCounter:
    """Wraps the input to know how far it got when a read fails."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.lines = 0

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        if line.endswith(b"\n"):
            self.lines += 1
        return line


class _BadLines:
    """Reports bad lines on stderr, the first few one by one."""

    def __init__(self, name: str, err: IO[str]) -> None:
        self.name, self.err = name, err
        self.count = 0
        self.first: BadLine | None = None

    def __call__(self, bad: BadLine) -> None:
        self.count += 1
        self.first = self.first or bad
        if self.count <= MAX_LINE_WARNINGS:
            print(f"{PROG}: warning: {self.name} line {bad.line_no}: {clean(bad.problem, 300)} (skipped)",
                  file=self.err)

    def summary(self) -> None:
        if self.count > MAX_LINE_WARNINGS:
            print(f"{PROG}: warning: {self.count} bad lines skipped in all "
                  f"({self.count - MAX_LINE_WARNINGS} not shown)", file=self.err)


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        thresholds = load_thresholds(args.thresholds)
    except (OSError, ValueError) as exc:
        print(f"{PROG}: --thresholds {args.thresholds}: {exc}", file=err)
        return 2
    name = "stdin" if args.trace == "-" else args.trace
    try:
        # Closed in the finally below (stdin is left open): not a `with`, one stream or the other.
        raw = sys.stdin.buffer if args.trace == "-" else open(args.trace, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"{PROG}: cannot read {name}: {exc.strerror or exc}", file=err)
        return 2
    from hvconsole.core.detector import Detector
    from hvconsole.core.trace import TraceError, read_trace
    detector = Detector(thresholds)
    bad = _BadLines(name, err)
    counter = _LineCounter(raw)
    try:
        for snap in read_trace(counter, strict=args.strict, on_bad_line=bad):
            detector.feed(snap)
    except TraceError as exc:
        print(f"{PROG}: {name} line {exc.line_no}: {clean(exc.problem, 300)}", file=err)
        return 2
    except OSError as exc:
        print(f"{PROG}: cannot read {name} after line {counter.lines}: {exc.strerror or exc}", file=err)
        return 2
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()
    bad.summary()
    if detector.snapshots == 0 and bad.first is not None:
        print(f"{PROG}: {name} is not a trace: no valid snapshot; first problem at line "
              f"{bad.first.line_no}: {clean(bad.first.problem, 300)}", file=err)
        return 2
    if detector.snapshots == 0:
        print(f"{PROG}: {name} is empty: no snapshot to look at", file=err)
        return 2
    if detector.ignored:
        print(f"{PROG}: warning: {detector.ignored} snapshots ignored: not newer than the "
              "previous poll of their host", file=err)
    if detector.dropped_findings:
        print(f"{PROG}: warning: {detector.dropped_findings} oldest ended findings not kept", file=err)
    if args.json:
        json.dump(detector.document(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        write_table(out, detector.all())
        print(summary(detector), file=out)
    return 0


def load_thresholds(path: str | None) -> Thresholds | None:
    if path is None:
        return None
    from hvconsole.core.detector import Thresholds
    with open(path, "rb") as f:
        try:
            data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError("not valid JSON (nested too deeply)") from None
        except ValueError:      # an integer beyond Python's 4,300-digit conversion limit
            raise ValueError("not valid JSON (a number too long to read)") from None
    return Thresholds.from_mapping(data)


def _time(f_time: datetime) -> str:
    return f_time.strftime("%Y-%m-%d %H:%M:%SZ")


def _cell(text: str, column: str) -> str:
    return clean(text, COLUMN_MAX.get(column, 200))


def write_table(out: IO[str], findings: list[Finding]) -> None:
    """One row per finding, in the order they appeared; host text cleaned and cut."""
    if not findings:
        print("no findings", file=out)
        return
    header = ("SEVERITY", "HOST", "VM", "KIND", "FIRST SEEN", "LAST SEEN", "ACTIVE", "EVIDENCE")
    rows = [(f.severity, _cell(f.host, "host"), _cell(f.vm_name or "(host)", "vm"), f.kind,
             _time(f.first_seen), _time(f.last_seen), "yes" if f.active else "no",
             _cell(f.evidence[0], "evidence")) for f in findings]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]   # the last cell is not padded
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)


def summary(d: Detector) -> str:
    found = d.all()
    crit = [f for f in found if f.severity == "critical"]
    warn = [f for f in found if f.severity == "warning"]
    noun = "finding" if len(found) == 1 else "findings"
    return (f"{len(found)} {noun}: {len(crit)} critical ({sum(f.active for f in crit)} active), "
            f"{len(warn)} warning ({sum(f.active for f in warn)} active); "
            f"{d.snapshots} snapshots, {d.vm_samples} VM samples")
