"""``hvconsole history``: the stored history for the admin's own tools.

``hvconsole history export HOST [VM] --since 7d --csv`` prints one host's (or one of its
VM's) series from the history file at the resolution the range is kept at (full
resolution for the last hour, 1-minute aggregates for 7 days, 15-minute for 90 days;
``--resolution`` forces one). ``--json`` also carries the markers (findings, VM state
changes, patch and recovery events). ``hvconsole history info`` says what the file
holds and what it costs on disk.

``--since``/``--until`` take an ISO 8601 time (``2026-05-01T08:00:00Z``; without a zone:
UTC) or a duration back from now (``90m``, ``24h``, ``7d``). Exit 0, or 2 with one line
on stderr (no history file, unknown host or VM, a bad time).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hvconsole.cli import common
from hvconsole.cli.common import EXIT_USAGE, clean

if TYPE_CHECKING:
    from hvconsole.cli.common import Subcommands
    from hvconsole.core.historydb import HistoryReader

PROG = "hvconsole history"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
RESOLUTIONS = ("auto", "full", "1m", "15m")


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("history", help="export the stored history of a host or VM",
                              description="Read the persistent history the window and the agent write.")
    sub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="print a host's or VM's series as CSV or JSON",
                       description="Print one host's (or VM's) stored series as CSV or JSON.",
                       epilog="Exit status: 0, or 2 when the file, host, VM or a time cannot be used.")
    e.add_argument("host", metavar="HOST")
    e.add_argument("vm", metavar="VM", nargs="?", help="a VM of HOST, by name or id")
    e.add_argument("--since", default="24h", help="start: ISO 8601 time or a duration back (default 24h)")
    e.add_argument("--until", default=None, help="end: ISO 8601 time or a duration back (default now)")
    fmt = e.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line (the default)")
    fmt.add_argument("--json", action="store_true", help="one JSON document, with markers")
    e.add_argument("--resolution", choices=RESOLUTIONS, default="auto",
                   help="full, 1m or 15m (default: the one the range is kept at)")
    _file_args(e)
    e.set_defaults(handler=run_export)
    i = sub.add_parser("info", help="what the history file holds and its size on disk")
    _file_args(i)
    i.set_defaults(handler=run_info)
    d = sub.add_parser("seed-demo", help="give the simulated demo site an accelerated past",
                       description="Write days of synthetic history for the demo site's hosts and VMs "
                                   "into the demo's history file (never the real hosts' file), with "
                                   "the regression's daily freezes until the fix was installed, so the "
                                   "window's 7-day and 90-day views have a past to show.")
    d.add_argument("--days", type=float, default=7.0, help="how many days back (default 7, at most 90)")
    d.add_argument("--replace", action="store_true", help="start the demo's history file again")
    d.set_defaults(handler=run_seed_demo)


def _file_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", help="the simulated demo site's history")
    p.add_argument("--file", metavar="PATH", help="a history file (default: the data folder's)")


def say(message: str) -> None:
    common.say(f"{PROG}: {message}")


def history_path(args: argparse.Namespace) -> Path:
    if args.file:
        return Path(args.file)
    from hvconsole import paths
    from hvconsole.core.historydb import history_file
    return history_file(paths.site_data_dir(bool(args.demo)))


def parse_when(text: str, now: float) -> float:
    """Epoch seconds of an ISO time or of ``now`` minus a duration; ValueError otherwise."""
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT_S[m.group(2).lower()]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor a duration like 90m, 24h or 7d") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _open(args: argparse.Namespace) -> HistoryReader | None:
    from hvconsole.core.historydb import HistoryDbError, HistoryReader
    path = history_path(args)
    try:
        return HistoryReader(path)
    except HistoryDbError as exc:
        say(f"{exc} (the window and `hvconsole agent --history` write it)")
        return None


def run_export(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    return _reading(args, lambda reader: _export(reader, args, out or sys.stdout))


def _reading(args: argparse.Namespace, body: Callable[[HistoryReader], int]) -> int:
    """``body`` run on the open history file; exit 2 when it cannot be opened (said why)."""
    reader = _open(args)
    if reader is None:
        return EXIT_USAGE
    with reader:
        return body(reader)


def _export(reader: HistoryReader, args: argparse.Namespace, out: IO[str]) -> int:
    now = reader.newest_time() or time.time()
    try:
        t0 = parse_when(args.since, now)
        t1 = now if args.until is None else parse_when(args.until, now)
    except ValueError as exc:
        say(str(exc))
        return EXIT_USAGE
    if t1 <= t0:
        say("--since must be before --until")
        return EXIT_USAGE
    host = reader.host(args.host)
    if host is None:
        known = ", ".join(h.name for h in reader.hosts()) or "none yet"
        say(f"no history of host {args.host!r} (hosts in the file: {known})")
        return EXIT_USAGE
    series = reader.vm(host.name, args.vm) if args.vm else host
    if series is None:
        say(f"no history of a VM {args.vm!r} on {host.name}")
        return EXIT_USAGE
    from hvconsole.core.historydb import MINUTE, QUARTER, RAW
    tier = {"full": RAW, "1m": MINUTE, "15m": QUARTER}.get(args.resolution)
    data = reader.read(series, t0, t1, tier)
    markers = reader.markers(host.name, t0, t1, vm_id=series.key if args.vm else None)
    if args.json:
        _write_json(out, host, series if args.vm else None, data, markers, t0, t1)
    else:
        _write_csv(out, data)
    return 0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(v: float) -> float | None:
    return None if math.isnan(v) else round(float(v), 3)


def _rows(data: Any) -> list[int]:
    """Columns that hold a measurement (an empty bucket or a gap marker is left out)."""
    has_value = ~(data.mean != data.mean).all(axis=0)
    return [i for i in range(len(data)) if has_value[i] and data.counts[i] > 0]


def _write_csv(out: IO[str], data: Any) -> None:
    w = csv.writer(out, lineterminator="\n")
    raw = data.resolution_s is None
    if raw:
        w.writerow(["time", *data.fields])
    else:
        w.writerow(["time", "samples", *[f"{f}_{s}" for f in data.fields for s in ("min", "mean", "max")]])
    for i in _rows(data):
        cells: list[Any] = [_iso(data.times[i])]
        if raw:
            cells += ["" if _num(v) is None else _num(v) for v in data.mean[:, i]]
        else:
            cells.append(int(data.counts[i]))
            for f in range(len(data.fields)):
                for arr in (data.min, data.mean, data.max):
                    v = _num(arr[f, i])
                    cells.append("" if v is None else v)
        w.writerow(cells)


def _write_json(out: IO[str], host: Any, vm: Any, data: Any, markers: list, t0: float, t1: float) -> None:
    samples = []
    for i in _rows(data):
        item: dict[str, Any] = {"time": _iso(data.times[i])}
        if data.resolution_s is None:
            item.update({f: _num(data.mean[k, i]) for k, f in enumerate(data.fields)})
        else:
            item["samples"] = int(data.counts[i])
            for name, arr in (("min", data.min), ("mean", data.mean), ("max", data.max)):
                item[name] = {f: _num(arr[k, i]) for k, f in enumerate(data.fields)}
        samples.append(item)
    doc = {
        "schema": "hvconsole.history-export/1",
        "host": host.name, "vm": None if vm is None else {"name": vm.name, "id": vm.key},
        "since": _iso(t0), "until": _iso(t1),
        "resolution": data.tier, "resolution_s": data.resolution_s,
        "fields": list(data.fields), "samples": samples,
        "markers": [{"time": _iso(m.t), "vm_id": m.vm_id, "category": m.category, "kind": m.kind,
                     "severity": m.severity, "text": m.text} for m in markers],
    }
    json.dump(doc, out, indent=1, allow_nan=False)
    out.write("\n")


def run_seed_demo(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    if not 0 < args.days <= 90:
        say("--days must be above 0 and at most 90")
        return EXIT_USAGE
    from hvconsole import paths
    from hvconsole.core.historydb import HistoryDbError, history_file
    from hvconsole.core.historydb.schema import connect
    from hvconsole.core.historydb.synthetic import SeedFreeze, SeedHost, SeedVm, seed
    from hvconsole.site import demo_model

    path = history_file(paths.demo_data_dir())
    if path.exists():
        if not args.replace:
            try:
                conn = connect(path, create=False)
                has = conn.execute("SELECT count(*) FROM series").fetchone()[0]
                conn.close()
            except HistoryDbError as exc:
                say(f"{exc}; add --replace to start it again")
                return EXIT_USAGE
            if has:
                say(f"the demo's history file already has data ({path}); add --replace to start it again")
                return EXIT_USAGE
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    demo = demo_model()   # the demo's hosts and VMs (model only, not served)
    site = demo.site
    hosts = []
    freeze_host = freeze_id = None
    for h in (site.hosts.values() if isinstance(site.hosts, dict) else site.hosts):
        vms = tuple(SeedVm(v.id, v.name, float(v.memory_mb), v.state.startswith("Running"))
                    for v in (h.vms.values() if isinstance(h.vms, dict) else h.vms))
        hosts.append(SeedHost(h.name, float(h.memory_total_mb), vms))
        for v in vms:
            if v.name == demo.freeze_vm:
                freeze_host, freeze_id = h.name, v.id
    end = time.time() - 60
    days = int(args.days)
    # The story the demo tells (sim/scenarios/demo.py): HV01 got the regressed build three days
    # ago and SQL-PROD-02 has frozen twice a day since; before it, a quiet week. Patching
    # HV01 with the fix in the demo is what stops the freezes.
    patched_at = end - min(3, days / 2) * 86400
    freezes = []
    if freeze_host is not None and freeze_id is not None:   # found together
        t = patched_at + 5 * 3600
        while t < end - 3600:
            freezes.append(SeedFreeze(t, freeze_host, freeze_id, demo.freeze_vm))
            t += 12 * 3600
    written = seed(path, hosts, end=end, days=args.days, freezes=freezes)
    if freeze_host is not None:
        conn = connect(path)
        conn.execute("INSERT INTO annotations (t, host, vm_id, category, kind, severity, text) VALUES (?, ?, NULL, "
                     "'patch', 'install', NULL, ?)",
                     (patched_at, freeze_host, f"patch run: KB5058385 installed on {freeze_host}, host restarted"))
        conn.close()
    print(f"{PROG}: wrote {args.days:g} days of simulated history for {written} hosts and VMs into {path}",
          file=out)
    return 0


def run_info(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    return _reading(args, lambda reader: _info(reader, args, out or sys.stdout))


def _info(reader: HistoryReader, args: argparse.Namespace, out: IO[str]) -> int:
    from hvconsole.core.historydb import budget_bytes
    hosts = reader.hosts()
    vm_count = reader.conn.execute("SELECT count(*) FROM series WHERE kind='vm'").fetchone()[0]
    chunks = reader.conn.execute("SELECT tier, count(*) FROM chunks GROUP BY tier").fetchall()
    notes = reader.conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
    size = reader.disk_bytes()
    newest = reader.newest_time()
    names = {0: "full resolution", 1: "1-minute", 2: "15-minute"}
    print(f"history file  {clean(str(history_path(args)), 500)}", file=out)
    print(f"on disk       {size / 1e6:,.1f} MB (budget for {len(hosts)} hosts and {vm_count} VMs: "
          f"{budget_bytes(len(hosts), vm_count) / 1e6:,.0f} MB)", file=out)
    print(f"newest sample {_iso(newest) if newest else 'none'}", file=out)
    print(f"hosts         {', '.join(clean(h.name, 64) for h in hosts) or 'none'}", file=out)
    print(f"VMs           {vm_count}", file=out)
    print("chunks        " + (", ".join(f"{names.get(t, t)} {n:,}" for t, n in chunks) or "none"), file=out)
    print(f"markers       {notes:,}", file=out)
    return 0
