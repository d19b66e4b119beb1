"""A user's threshold overrides (a JSON object of name: number) read against a dataclass
of thresholds: the freeze detector's (``detector/thresholds.py``) and the health check's
(``health/thresholds.py``) take their files the same way and say the same things about
a bad one, naming the threshold and the reason.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any


class ThresholdError(ValueError):
    """A thresholds file that cannot be used, with one sentence saying why."""


def threshold_overrides(thresholds_class: type, raw: object) -> dict[str, Any]:
    """``raw`` checked against the fields of ``thresholds_class``: known names only (with a
    "did you mean" for a near miss), finite numbers that are not negative, whole ones for
    an ``int`` field. Returns the values to build the thresholds with, each of its field's
    type (int or float: ``Any`` because a checker cannot tell which field wants which); raises
    :class:`ThresholdError`. Ranges and rules between fields are the class's own business."""
    if not isinstance(raw, Mapping):
        raise ThresholdError("the thresholds must be a JSON object of name: number")
    fields = {f.name: f for f in dataclasses.fields(thresholds_class)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ThresholdError(f"unknown threshold {str(key)[:60]!r}{hint}")
        values[key] = _number(key, value, fields[key].type)
    return values


def _number(name: str, value: Any, field_type: Any) -> int | float:
    # Fields are annotated as text ("int", "float") in modules with the __future__ import.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ThresholdError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ThresholdError(f"{name} must be a finite number")
    if value < 0:
        raise ThresholdError(f"{name} must not be negative, got {value}")
    if field_type in ("int", int):
        if value != int(value):
            raise ThresholdError(f"{name} must be a whole number, got {value}")
        return int(value)
    return float(value)
