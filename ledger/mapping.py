"""Events to stored events with long base64 texts compressed apart, never joined first.

eventsourcing's ``Mapper`` writes an event's state as JSON bytes and hands them to the
compressor. A proof batch's state is 6-8 MB, two long base64 texts and a little JSON
around them: joining them cost about 5 ms on the 2-core VM (fresh pages), and the
envelope's payload, known before its shares were hashed, was compressed only after.
:class:`SplicingMapper` gives the compressor the pieces ``ledger.transcoding`` writes
(``encode_parts``), so ``ledger.compression.compress_parts`` puts in the blocks of a text
compressed ahead (``compress_ahead``) and compresses the rest. The stream decompresses to
exactly the bytes eventsourcing's mapper would have compressed; reading is
eventsourcing's own. Selected for every store by ``ledger.config``.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger.compression import FastZlibCompressor, compress_parts
from ledger.transcoding import SplicingJSONTranscoder


class SplicingMapper(Mapper[Any]):
    """eventsourcing's mapper, compressing a state with long texts from its pieces when
    the store uses the ledger's transcoder and compressor (as ``Mapper`` otherwise)."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        """Returns the stored event of ``domain_event``, as ``Mapper.to_stored_event``."""
        transcoder = self.transcoder
        if (not isinstance(transcoder, SplicingJSONTranscoder)
                or not isinstance(self.compressor, FastZlibCompressor)):
            return super().to_stored_event(domain_event)
        # Mapper.to_stored_event's steps (eventsourcing 9.5), the compression aside.
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        parts = transcoder.encode_parts(event_state)
        stored_state = (self.compressor.compress(parts[0]) if len(parts) == 1
                        and isinstance(parts[0], bytes) else compress_parts(parts))
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(originator_id=originator_id,
                           originator_version=originator_version,
                           topic=get_topic(type(domain_event)), state=stored_state)
