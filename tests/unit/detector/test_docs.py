"""docs/freeze-detection.md stays true: every kind and every threshold is documented, and
the defaults in its table are the defaults in the code."""

from __future__ import annotations

import re
from pathlib import Path

from hvconsole.core.detector import KINDS, Thresholds

DOC = (Path(__file__).parents[3] / "docs" / "freeze-detection.md").read_text(encoding="utf-8")


def test_every_kind_is_documented():
    missing = [k for k in KINDS if f"`{k}`" not in DOC]
    assert missing == []


def test_threshold_table_matches_the_code():
    table = dict(re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", DOC, flags=re.MULTILINE))
    defaults = Thresholds().to_dict()
    assert set(table) == set(defaults)
    assert {k: float(v) for k, v in table.items()} == {k: float(v) for k, v in defaults.items()}
