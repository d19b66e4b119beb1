"""Import and export of the inventory as CSV or JSON, for moving a site's host list
between PCs or editing it in a spreadsheet. Exports carry no ids (the other PC's keyring
has none of these entries) and never a secret; imports refuse a password column outright.
"""

from __future__ import annotations

import csv
import io
import json

from .fields import FIELDS, OPTIONAL_FIELDS, SECRET_KEYS, InventoryError
from .model import Host, Inventory
from .store import decode_document


def export_json(inventory: Inventory) -> str:
    # Without ids: an export seeds another PC, whose keyring has none of these entries.
    return json.dumps(inventory.to_document(include_ids=False), ensure_ascii=False, indent=2) + "\n"


def export_csv(inventory: Inventory) -> str:
    out = io.StringIO()
    # An optional column (poll_interval_s, collect_loop) only when a host sets it, as in the
    # JSON: a site that never set one exports the same columns as before (spreadsheets
    # keyed on them).
    columns = [k for k in FIELDS if k not in OPTIONAL_FIELDS or any(getattr(h, k) for h in inventory)]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for host in inventory:
        row = host.to_dict(include_id=False)
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return out.getvalue()


def parse_import(text: str, fmt: str) -> list[Host]:
    """Hosts from an exported CSV or JSON text (fresh ids); every problem is reported at
    once, naming its row, as one :class:`InventoryError`."""
    if fmt == "json":
        return list(Inventory.from_document(decode_document(text), keep_ids=False))
    if fmt != "csv":
        raise InventoryError(f"unknown import format {fmt!r} (csv or json)")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _csv_hosts(reader)
    except csv.Error as exc:     # a field over csv's 131,072-character limit, a NUL, ...
        # line_num counts the lines read before the failing one
        raise InventoryError(f"line {reader.line_num + 1}: not a CSV row this import can read ({exc})") from None


def _csv_hosts(reader: csv.DictReader) -> list[Host]:
    columns = {c.strip().lower() for c in reader.fieldnames or ()}
    if SECRET_KEYS & columns:
        raise InventoryError("the CSV has a password column: hvconsole never imports passwords from files; "
                             "remove the column and set each password with `hvconsole hosts edit NAME "
                             "--password-stdin`")
    missing = {"name", "address", "username"} - columns
    if missing:
        raise InventoryError(f"the CSV lacks the column(s) {', '.join(sorted(missing))}; expected {','.join(FIELDS)}")
    hosts, problems = [], []
    for row in reader:
        clean = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            hosts.append(Host.from_dict({k: v for k, v in clean.items() if v != ""}, keep_id=False))
        except InventoryError as exc:
            problems.append(f"line {reader.line_num}: {exc}")
    if problems:
        raise InventoryError("; ".join(problems))
    return hosts
