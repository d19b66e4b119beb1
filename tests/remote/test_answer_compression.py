"""The collect answer on the wire: ``HVCZ1:`` + base64 of gzip of the UTF-8 JSON
(docs/collection-script.md "The answer on the wire"), decoded by ``remote/answer.py``,
which still takes the plain JSON form."""

from __future__ import annotations

import base64
import gzip
import json
import re

import pytest

from hvconsole.remote import answer
from hvconsole.remote.answer import COMPRESSED_PREFIX, answer_text, json_document
from hvconsole.remote.errors import RemoteError
from hvconsole.remote.loader import script_body
from hvconsole.remote.session import ScriptResult
from hvconsole.sim.agent.collect import ps_json, wire_answer

DOC = {"host_time": "2026-12-07T20:00:00.000Z", "vms": [{"name": "FS-Büro-01", "cpu_pct": 3}], "warnings": []}


def result(stdout: str, exit_code: int = 0) -> ScriptResult:
    return ScriptResult(stdout=stdout, stderr="", exit_code=exit_code, requests=3, elapsed_ms=5)


def packed(raw: bytes) -> str:
    return COMPRESSED_PREFIX + base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def decode(stdout: str, **kw) -> dict:
    return json_document(result(stdout), host="HV01", script="collect", **kw)


def protocol_error(stdout: str, **kw) -> str:
    with pytest.raises(RemoteError) as err:
        decode(stdout, **kw)
    assert err.value.kind == "protocol"
    return err.value.message


def test_both_forms_give_the_same_document():
    plain = json.dumps(DOC, ensure_ascii=False)
    assert decode(plain) == decode(packed(plain.encode("utf-8"))) == DOC


def test_the_prefix_cannot_begin_a_json_text():
    with pytest.raises(ValueError):
        json.loads(COMPRESSED_PREFIX)
    # Nor is it ever read as plain text that merely failed to parse.
    assert "not JSON" not in protocol_error(COMPRESSED_PREFIX + "!!!")


def test_plain_text_passes_through_unchanged():
    assert answer_text('  {"a": 1}\r\n', host="h", script="collect") == '{"a": 1}'


def test_the_simulated_answer_is_the_compressed_form_and_the_client_reads_it():
    wire = wire_answer(ps_json(DOC))
    assert wire.startswith(COMPRESSED_PREFIX.encode("ascii")) and b"\n" not in wire
    assert decode(wire.decode("ascii")) == DOC


def test_a_compressed_hvc_error_is_still_the_script_failure():
    stdout = packed(json.dumps({"hvc_error": {"message": "boom", "where": "os"}}).encode())
    with pytest.raises(RemoteError) as err:
        json_document(result(stdout, exit_code=1), host="HV01", script="collect")
    assert err.value.kind == "script" and "boom (at os)" in err.value.message


def test_the_plain_not_loaded_document_of_the_loader_still_reads():
    stdout = '{"hvc_error":{"message":"script HVC_SCRIPT_COLLECT is not loaded in this shell"}}'
    with pytest.raises(RemoteError) as err:
        json_document(result(stdout, exit_code=86), host="HV01", script="collect")
    assert err.value.kind == "script" and "not loaded" in err.value.message


@pytest.mark.parametrize(("payload", "words"), [
    ("", "not valid gzip"),                                            # prefix alone
    ("@@@@", "not valid base64"),
    ("QUJD\nREVG", "not valid base64"),                                # a line break inside
    ("QUJDRA=", "not valid base64"),                                   # bad padding
    (base64.b64encode(b"plain text, not gzip").decode(), "not valid gzip"),
])
def test_bad_base64_or_gzip_is_a_protocol_error(payload, words):
    assert words in protocol_error(COMPRESSED_PREFIX + payload)


def test_truncated_gzip_is_a_protocol_error():
    whole = gzip.compress(json.dumps(DOC).encode(), mtime=0)
    stdout = COMPRESSED_PREFIX + base64.b64encode(whole[:-6]).decode()
    assert "truncated" in protocol_error(stdout)


def test_a_corrupted_checksum_is_a_protocol_error():
    whole = bytearray(gzip.compress(json.dumps(DOC).encode(), mtime=0))
    whole[-8] ^= 0xFF    # the CRC-32 of the trailer
    assert "not valid gzip" in protocol_error(COMPRESSED_PREFIX + base64.b64encode(bytes(whole)).decode())


def test_data_after_the_gzip_member_is_a_protocol_error():
    whole = gzip.compress(json.dumps(DOC).encode(), mtime=0) + b"extra"
    assert "followed by other data" in protocol_error(COMPRESSED_PREFIX + base64.b64encode(whole).decode())


def test_text_that_is_not_utf8_is_a_protocol_error():
    assert "not UTF-8" in protocol_error(packed(b'{"name": "\xff"}'))


def test_inflated_json_that_is_not_an_object_is_a_protocol_error():
    assert "not JSON" in protocol_error(packed(b"[1, 2"))


def test_a_gzip_bomb_stops_at_the_cap():
    bomb = packed(b" " * (2 * 2**20))          # 2 MiB of blanks: about 2 KB compressed
    assert len(bomb) < 5000
    message = protocol_error(bomb, max_bytes=2**20)
    assert "inflates to more than 1,048,576 bytes" in message


def test_the_default_cap_is_the_sessions_output_cap():
    import inspect

    from hvconsole.remote.session import HostSession
    default = inspect.signature(HostSession.__init__).parameters["max_output_bytes"].default
    assert default == answer.MAX_DOCUMENT_BYTES


def test_the_inflate_never_runs_past_the_cap(monkeypatch):
    """Bounded inflate: the decompressor is asked for at most cap + 1 bytes, never all."""
    asked: list[int] = []
    real = answer.zlib.decompressobj

    class Spy:
        def __init__(self, wbits):
            self._d = real(wbits)

        def decompress(self, data, max_length=0):
            asked.append(max_length)
            return self._d.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self._d, name)

    monkeypatch.setattr(answer.zlib, "decompressobj", Spy)
    with pytest.raises(RemoteError):
        decode(packed(b"x" * 100_000), max_bytes=1000)
    assert asked == [1001]


def test_an_answer_exactly_at_the_cap_reads():
    raw = json.dumps({"pad": "x" * 990}).encode()
    assert decode(packed(raw), max_bytes=len(raw)) == {"pad": "x" * 990}


def test_collect_script_writes_the_compressed_form():
    src = script_body("collect")
    fn = re.search(r"function ConvertTo-WireAnswer\(.*?\n\}\n", src, re.S)
    assert fn is not None
    assert "IO.Compression.GZipStream" in fn.group(0) and "[Convert]::ToBase64String" in fn.group(0)
    assert f"'{COMPRESSED_PREFIX}'" in fn.group(0)
    # Compression that fails falls back to the plain document, which the client also reads.
    assert re.search(r"try \{ \$json = ConvertTo-WireAnswer \$json \} catch \{ \}", src)
