"""The simulator's GUIDs are uuid's own text for the same bits (the demo's VM ids stay what
they were when the scenarios called uuid)."""

from __future__ import annotations

import random
import uuid

from hvconsole.core.guid import guid4, random_guid


def test_guid4_is_uuids_version_4_text() -> None:
    rng = random.Random(12)
    for value in [0, (1 << 128) - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        assert guid4(value) == str(uuid.UUID(int=value, version=4))


def test_random_guid_is_a_version_4_rfc_4122_uuid() -> None:
    texts = {random_guid() for _ in range(50)}
    assert len(texts) == 50
    for text in texts:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
