"""The "verified against" tables of docs/collection-script.md and docs/patch-scripts.md
(issue 11): every class, event id and exit code the scripts rely on has a row naming its
source, each page has a "still unverified" list, and the transport facts are stated right
(8,191 is cmd.exe's limit; the idle timeout default is not relied on)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCRIPTS = ROOT / "hvconsole" / "remote" / "scripts"
COLLECTION = (ROOT / "docs" / "collection-script.md").read_text(encoding="utf-8")
PATCH = (ROOT / "docs" / "patch-scripts.md").read_text(encoding="utf-8")


def verified_rows(doc: str) -> dict[str, str]:
    """First cell -> third cell of the table under '## Verified against'."""
    section = doc.split("## Verified against", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not set(cells[0]) <= set("- ") and cells[0] != "item":
            rows[cells[0]] = cells[2]
    return rows


def test_every_row_names_its_source():
    for doc in (COLLECTION, PATCH):
        rows = verified_rows(doc)
        assert len(rows) >= 15
        assert all(len(source) > 10 for source in rows.values()), rows


def test_every_class_and_event_collect_reads_is_verified():
    src = (SCRIPTS / "collect.ps1").read_text(encoding="utf-8")
    table = " ".join(verified_rows(COLLECTION))
    classes = set(re.findall(r"'(Win32_PerfFormattedData_\w+|Msvm_\w+|Win32_\w+)'", src))
    classes |= {"Win32_PerfFormattedData_HvStats_HyperVHypervisor" + s
                for s in ("LogicalProcessor", "RootVirtualProcessor", "VirtualProcessor")}
    classes.discard("Win32_PerfFormattedData_HvStats_HyperVHypervisor")
    classes.discard("Win32_ComputerSystem")          # a fallback for a count only
    missing = sorted(c for c in classes if c not in table)
    assert missing == [], missing
    system_ids = {int(i) for i in re.findall(r"\b(\d{2,5})\b", src[src.index("$systemSources = @{"):
                                                                   src.index("$vmIdPattern")])}
    for event_id in system_ids | {18560, 18590}:
        assert re.search(rf"\b{event_id}\b", table), event_id


def test_every_exit_code_the_patch_scripts_use_is_verified():
    table = " ".join(f"{k} {v}" for k, v in verified_rows(PATCH).items())
    codes: set[int] = set()
    for script in SCRIPTS.glob("patch_*.ps1"):
        text = script.read_text(encoding="utf-8")
        codes |= {int(v) for v in re.findall(r"^\s*\[int64\]\$\w+ = (\d+)", text, re.M)}
        for listed in re.findall(r"\[int64\[\]\]\$\w+ = @\(([^)]*)\)", text):
            codes |= {int(v) for v in listed.split(",")}
    codes |= {1190, 0x41301, 0x41303}
    for code in codes:
        forms = {str(code), f"0x{code:08X}", f"0x{code:X}"}
        assert any(f in table for f in forms), f"{code} (0x{code:X}) has no verified-against row"


def test_still_unverified_lists_and_transport_facts():
    assert "### Still unverified (first real host)" in COLLECTION
    assert "Still unverified, in short" in PATCH
    limit = COLLECTION[COLLECTION.index("8,191 characters is cmd.exe's limit"):][:400]
    assert "not WinRM's" in limit and "WINRS_SKIP_CMD_SHELL" in limit
    idle = COLLECTION[COLLECTION.index("The shell idle timeout default differs"):][:500]
    assert "180,000" in idle and "7200" in idle and "Nothing depends on either" in idle
    assert "-UserId S-1-5-18" in PATCH and "never moved per VM" in PATCH
