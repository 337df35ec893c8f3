"""Event state compression (``ledger.compression``): one zlib stream, piece by piece, long
texts compressed ahead."""

from __future__ import annotations

import base64
import json
import os
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isal import isal_zlib

from ledger import compression
from ledger.compression import (
    PIECE,
    FastZlibCompressor,
    compress_ahead,
    compress_parts,
    compress_state,
)
from ledger.domain.base64_text import MIN_SPLICE_CHARS, Base64Text, base64_text

COMPRESSOR = FastZlibCompressor()


def _proof_batch_like(shares: int) -> tuple[bytes, bytes, bytes]:
    """Returns JSON shaped like a large ProofBatch.Verified state (base64 of a repetitive
    packed batch, a digit per share, base64 of random 32-byte hashes), and the two base64
    texts."""
    packed = base64.b64encode(b"".join(
        i.to_bytes(4, "little") + b"\x01\x00\x00\x00" + os.urandom(4)
        for i in range(shares)))
    hashes = base64.b64encode(os.urandom(32 * shares))
    state = json.dumps({"request_id": "r1", "envelope": {"payload": packed.decode()},
                        "verdicts": "0" * shares, "accepted_hashes": hashes.decode()})
    return state.encode(), packed, hashes


TRADE_LIKE = json.dumps({
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-12-03T19:59:31.683132+00:00"},
    "originator_topic": "ledger.domain.trade:Trade",
    "requester": "participant:fa591843-ad95-55c8-b7e0-e7e8f83cea7d",
    "request_digest": os.urandom(32).hex(), "exchange_trade_id": "x1", "asset": "BTC",
    "quantity": {"_type_": "decimal_str", "_data_": "0.001"},
    "buyer_id": {"_type_": "uuid_hex", "_data_": os.urandom(16).hex()},
    "envelope": {"payload": base64.b64encode(os.urandom(180)).decode(),
                 "signature": base64.b64encode(os.urandom(64)).decode()}},
    separators=(",", ":")).encode()
"""A trade's state as the ledger stores it, in shape and size (about 700 bytes)."""


def test_short_states_are_one_level_1_isa_l_stream_as_small_as_zlibs() -> None:
    for data in (b'{"a":"' + b"x" * 1000 + b'"}', TRADE_LIKE, b""):
        stream = COMPRESSOR.compress(data)
        assert stream == isal_zlib.compress(data, 1)
        assert zlib.decompress(stream) == data  # an ordinary zlib stream
    assert len(COMPRESSOR.compress(TRADE_LIKE)) <= 1.05 * len(zlib.compress(TRADE_LIKE, 1))


def test_a_large_state_is_one_zlib_stream_compressing_only_what_compresses() -> None:
    data, packed, hashes = _proof_batch_like(60_000)
    assert len(data) > 8 * PIECE
    stream = COMPRESSOR.compress(data)
    # Any zlib reader, all at once or streaming, gets the state back.
    assert zlib.decompress(stream) == data
    reader = zlib.decompressobj()
    assert b"".join(reader.decompress(stream[i:i + 1000])
                    for i in range(0, len(stream), 1000)) + reader.flush() == data
    assert reader.eof and not reader.unused_data
    # The hashes' base64 is stored as it is (verbatim, but for the stored blocks' 5-byte
    # headers every 64 KiB) ...
    def verbatim(text: bytes) -> int:
        return sum(text[k:k + 500] in stream for k in range(0, len(text), len(text) // 20))

    assert verbatim(hashes) >= 18
    # ... and the packed batch's is deflated to under half its size (zlib's run-length
    # matching, before ISA-L, kept 56% of it).
    assert verbatim(packed) == 0
    assert len(stream) < len(data) - len(packed) // 2


def test_random_bytes_are_stored_and_a_damaged_stream_is_refused() -> None:
    data = os.urandom(3 * PIECE + 17)
    stream = compress_state(data)
    assert len(data) < len(stream) < len(data) * 1.01
    assert COMPRESSOR.decompress(stream) == data
    damaged = bytearray(stream)
    damaged[len(stream) // 2] ^= 0xFF
    with pytest.raises(zlib.error):
        zlib.decompress(bytes(damaged))
    # The compressor refuses it as the standard library does, and a truncated stream too.
    with pytest.raises(zlib.error):
        COMPRESSOR.decompress(bytes(damaged))
    for stream in (compress_state(TRADE_LIKE), compress_state(data)):
        with pytest.raises(zlib.error):
            COMPRESSOR.decompress(stream[:-5])


def test_states_written_before_read_back_unchanged() -> None:
    data = _proof_batch_like(20_000)[0]
    for level in (1, 6, 9):
        assert COMPRESSOR.decompress(zlib.compress(data, level)) == data
        assert COMPRESSOR.decompress(zlib.compress(TRADE_LIKE, level)) == TRADE_LIKE


pieces = st.one_of(st.binary(max_size=3000),
                   st.builds(lambda n: b"ab" * n, st.integers(0, 200_000)),
                   st.builds(lambda n: base64.b64encode(os.urandom(n)), st.integers(0, 300_000)),
                   st.builds(os.urandom, st.integers(0, 300_000)))


@settings(max_examples=25, deadline=None)
@given(st.lists(pieces, max_size=6))
def test_any_state_round_trips(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert zlib.decompress(compress_state(data)) == data


def test_text_pieces_compress_as_well_as_level_1() -> None:
    # The canonical JSON of a batch submitted as JSON: hex fields in repeated keys.
    shares = [{"job_id": f"j{i % 7}", "extranonce2": f"{i:016x}", "ntime": f"{i // 10:08x}",
               "nonce": os.urandom(4).hex()} for i in range(40_000)]
    data = json.dumps({"batch_json": json.dumps({"shares": shares})}).encode()
    assert len(data) > 8 * PIECE
    stream = COMPRESSOR.compress(data)
    assert zlib.decompress(stream) == data
    assert len(stream) <= 1.1 * len(zlib.compress(data, 1))


def test_pieces_compressed_on_threads_make_the_bytes_of_one_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = _proof_batch_like(30_000)[0]
    assert len(data) > 4 * PIECE
    on_threads = compress_state(data)
    monkeypatch.setattr(compression, "_threads", lambda: None)
    assert compress_state(data) == on_threads
    # ... and the bytes of a deflater and a storer, each fresh for every piece, in turn.
    kinds: set[str] = set()
    stream = [compression.ZLIB_HEADER]
    for start in range(0, len(data), PIECE):
        piece = data[start:start + PIECE]
        kind = len(isal_zlib.compress(piece[:compression.PROBE], 1)) / min(compression.PROBE,
                                                                            len(piece))
        if kind < compression.STORE_ABOVE:
            kinds.add("deflated")
            deflater = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
            stream += [deflater.compress(piece), deflater.flush(isal_zlib.Z_FULL_FLUSH)]
        else:
            kinds.add("stored")
            storer = zlib.compressobj(0, zlib.DEFLATED, -15)
            stream += [storer.compress(piece), storer.flush(zlib.Z_FULL_FLUSH)]
    stream += [compression.FINAL_EMPTY_BLOCK, zlib.adler32(data).to_bytes(4, "big")]
    assert b"".join(stream) == on_threads
    assert kinds == {"deflated", "stored"}


@pytest.mark.parametrize("ahead", [False, True])
def test_a_forked_process_compresses_on_threads_of_its_own(
        monkeypatch: pytest.MonkeyPatch, ahead: bool) -> None:
    monkeypatch.setattr(compression, "_POOLS", {})  # the module's own come back after
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    parent = compression._threads(ahead)
    assert parent is not None and compression._threads(ahead) is parent
    assert compression._threads(not ahead) is not parent  # saves never queue behind texts
    monkeypatch.setattr(compression.os, "getpid", lambda: -1)  # as in a forked child
    child = compression._threads(ahead)
    assert child is not None and child is not parent
    monkeypatch.setattr(compression, "cpu_count", lambda: 1)
    assert compression._threads(ahead) is None  # one core: in the calling thread
    for pool in (parent, child, compression._POOLS[not ahead][1]):
        pool.shutdown()


def test_a_short_state_with_a_long_text_is_level_1_zlib_in_one_go() -> None:
    text = base64_text(os.urandom(3 * MIN_SPLICE_CHARS // 4))
    assert isinstance(text, Base64Text)
    parts: list[bytes | Base64Text] = [b'{"accepted_hashes":"', text, b'"}']
    joined = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
    assert len(joined) <= PIECE
    assert compress_parts(parts) == isal_zlib.compress(joined, 1) == compress_state(joined)


# ------------------------------------------------------------------ texts compressed ahead


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.binary(max_size=5000))
def test_two_adler32s_combine_into_that_of_the_joined_bytes(first: bytes,
                                                             second: bytes) -> None:
    assert compression.adler32_combine(zlib.adler32(first), zlib.adler32(second),
                                       len(second)) == zlib.adler32(first + second)


def _long_text(size: int) -> Base64Text:
    text = base64_text(os.urandom(size * 3 // 4))
    assert isinstance(text, Base64Text) and len(text) >= size
    return text


@pytest.mark.parametrize("cores", [2, 5])  # one run of pieces, or several at once
def test_a_text_compressed_ahead_goes_in_as_its_blocks(
        monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: cores)
    ahead, later = _long_text(compression.AHEAD_MIN + 3), _long_text(2 * PIECE)
    parts: list[bytes | Base64Text] = [b'{"envelope":{"payload":"', ahead,
                                       b'"},"accepted_hashes":"', later, b'"}']
    joined = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
    made = compress_ahead(ahead)
    assert made is not None and compress_ahead(ahead) is made  # started once
    made.result()  # ready, as after a batch's hashing
    compressed: list[int] = []
    piece = compression.compress_piece

    def counted(view: memoryview) -> bytes:
        compressed.append(len(view))
        return piece(view)

    monkeypatch.setattr(compression, "compress_piece", counted)
    stream = compress_parts(parts)
    assert zlib.decompress(stream) == joined
    # Only what was not compressed ahead is compressed now: the later text and the JSON.
    assert sum(compressed) == len(joined) - len(ahead)
    assert made.result()[0] in stream
    assert zlib.decompress(compress_parts([*parts[:1], ahead.encode(), *parts[2:]])) == (
        joined)  # the same state without it


def test_only_long_base64_texts_of_this_process_are_compressed_ahead(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    short, plain = _long_text(compression.AHEAD_MIN // 2), str(_long_text(compression.AHEAD_MIN))
    for text in (short, plain):
        assert compress_ahead(text) is None and compression._ahead_of(text) is None
    text = _long_text(compression.AHEAD_MIN)
    assert compress_ahead(text) is compression._ahead_of(text) is not None
    monkeypatch.setattr(compression.os, "getpid", lambda: -1)  # as in a forked child
    assert compression._ahead_of(text) is None
    monkeypatch.setattr(compression, "cpu_count", lambda: 1)
    assert compress_ahead(_long_text(compression.AHEAD_MIN)) is None  # one core
    assert zlib.decompress(compress_parts([b"[", text, b"]"])) == f"[{text}]".encode()


def test_a_text_is_forgotten_when_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    text = _long_text(compression.AHEAD_MIN)
    made = compress_ahead(text)
    key = id(text)
    assert made is not None
    made.result()
    del text
    # Once the compression thread has let go of it too (just after the result is set).
    deadline = time.monotonic() + 5
    while key in compression._AHEAD and time.monotonic() < deadline:
        time.sleep(0.01)
    assert key not in compression._AHEAD


def test_a_text_whose_compression_ahead_failed_is_compressed_with_its_event(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)

    def fail(*_: object) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(compression, "_start", fail)
    text = _long_text(compression.AHEAD_MIN)
    assert compress_ahead(text) is not None
    assert zlib.decompress(compress_parts([b"[", text, b"]"])) == f"[{text}]".encode()
    assert "compressing it with its event" in caplog.text
