"""Host-provided text as one printable line, for every view of a patch run (the CLI's
views live in ``hvconsole.cli.patch_text``, the window's in ``hvconsole.ui.patch``)."""

from __future__ import annotations

from hvconsole.core.detector import text as detector_text


def clean(value: object, limit: int = 300) -> str:
    """Control and bidi characters become spaces (the detector's rule), so a VM name
    cannot move the cursor, reorder a line or fake one."""
    return detector_text.clean(str(value), limit)
