"""Stored events (``ledger.mapping``): a state with long texts compressed from its pieces,
reading back as eventsourcing's mapper writes it."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import DatetimeAsISO, Mapper, UUIDAsHex
from eventsourcing.utils import Environment

from ledger import compression
from ledger.compression import FastZlibCompressor, compress_ahead
from ledger.config import StoreConfig
from ledger.domain.base64_text import base64_text
from ledger.domain.envelope import Envelope
from ledger.mapping import SplicingMapper
from ledger.transcoding import SplicingJSONTranscoder
from tests.ontime import on_time_ledger


@dataclass(frozen=True)
class Recorded(DomainEvent):
    """An event shaped like a proof batch's: an envelope and a long base64 text."""

    envelope: dict[str, str]
    accepted_hashes: str
    counts: dict[str, int]


def recorded(size: int) -> Any:
    """Returns an event holding two base64 texts of about ``size`` characters each."""
    envelope = Envelope(os.urandom(size * 3 // 4), "application/x-packed", bytes(64), "k1")
    return Recorded(originator_id=uuid4(), originator_version=1,
                    timestamp=Recorded.create_timestamp(),
                    envelope=envelope.to_record(),
                    accepted_hashes=base64_text(os.urandom(size * 3 // 4)),
                    counts={"ACCEPTED": 3})


def transcoder() -> SplicingJSONTranscoder:
    """Returns the ledger's transcoder with the transcodings an event's header needs."""
    made = SplicingJSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO()):
        made.register(transcoding)
    return made


def mappers(cipher: AESCipher | None = None) -> tuple[Mapper[Any], Mapper[Any]]:
    """Returns the ledger's mapper and eventsourcing's, with the same parts."""
    transcoder_ = transcoder()
    return (SplicingMapper(transcoder_, FastZlibCompressor(), cipher),
            Mapper(transcoder_, FastZlibCompressor(), cipher))


@pytest.mark.parametrize("size", [100, compression.AHEAD_MIN])
def test_a_stored_event_reads_back_as_eventsourcings_mapper_writes_it(
        size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    event = recorded(size)
    ours, theirs = mappers()
    made = compress_ahead(event.envelope["payload"])
    assert (made is not None) == (size >= compression.AHEAD_MIN)
    stored, plain = ours.to_stored_event(event), theirs.to_stored_event(event)
    if made is not None:
        assert made.result()[0] in stored.state  # its blocks, as made ahead
    assert (stored.originator_id, stored.originator_version, stored.topic) == (
        plain.originator_id, plain.originator_version, plain.topic)
    assert zlib.decompress(stored.state) == zlib.decompress(plain.state)
    assert ours.to_domain_event(stored) == event == theirs.to_domain_event(stored)


def test_an_encrypted_event_reads_back_with_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    key = AESCipher.create_key(32)
    cipher = AESCipher(Environment(env={"CIPHER_KEY": key}))
    event = recorded(compression.AHEAD_MIN)
    ours, theirs = mappers(cipher)
    assert compress_ahead(event.envelope["payload"]) is not None
    assert theirs.to_domain_event(ours.to_stored_event(event)) == event


def test_without_the_ledgers_compressor_it_is_eventsourcings_mapper() -> None:
    event = recorded(compression.AHEAD_MIN)
    ours = SplicingMapper(transcoder())
    theirs: Mapper[Any] = Mapper(transcoder())
    assert ours.to_stored_event(event).state == theirs.to_stored_event(event).state


def test_the_ledger_stores_through_the_splicing_mapper(tmp_path: Path) -> None:
    ledger = on_time_ledger(StoreConfig(url=f"sqlite:///{tmp_path}/l.db"))
    try:
        assert isinstance(ledger.mapper, SplicingMapper)
    finally:
        ledger.close()
