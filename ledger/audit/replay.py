"""Replay for auditors holding the cipher key: decode every event, rebuild every aggregate,
and run extra checks (proof batches, reconciliations) over the rebuilt state.

Extra checks plug in through :class:`ReplayCheck`: the verifier wiring adds one that
re-verifies each stored proof batch and recomputes each reconciliation, reporting every
verdict that differs from the stored one as a ``VERDICT_MISMATCH`` fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import Cipher, Compressor, Mapper, StoredEvent, Transcoding

from ledger.audit.faults import Fault, FaultKind
from ledger.audit.leaf import LeafRecord


class ReplayCheck(Protocol):
    """A check that watches decoded events and inspects the rebuilt aggregates.

    A check may say which events it looks at with a ``watches`` attribute (a tuple of
    event classes; an event is watched when it is an instance of one): a parallel audit
    sends only those from its worker processes to the check, in log order. Without it
    every event is watched. A parallel audit rebuilds the aggregates in its worker
    processes, so ``finish`` gets an empty mapping there. A ``projections`` attribute
    (event class -> a module-level function) says what of such events the check reads:
    the workers send that instead, unless another check watches the class whole.
    """

    name: str

    def observe(self, leaf_index: int, event: Any) -> Iterable[Fault]:
        """Returns faults seen in one decoded event (in log order)."""
        ...

    def finish(self, aggregates: Mapping[Any, Any]) -> Iterable[Fault]:
        """Returns faults found once every aggregate is rebuilt."""
        ...


@dataclass(frozen=True)
class MapperRecipe:
    """What a worker process needs to build the same mapper as the auditor's (a mapper
    itself cannot be pickled: its JSON transcoder holds C scanners). It carries the
    cipher, hence the cipher key, to the audit's own worker processes only."""

    mapper_class: type[Mapper[Any]]
    transcoder_class: type[Any]
    transcodings: tuple[Transcoding, ...]
    compressor: Compressor | None
    cipher: Cipher | None

    @classmethod
    def of(cls, mapper: Mapper[Any]) -> MapperRecipe:
        """Returns the recipe of ``mapper`` (its transcoder's registered transcodings)."""
        transcoder: Any = mapper.transcoder
        names: dict[str, Transcoding] = getattr(transcoder, "names", {})
        return cls(type(mapper), type(transcoder), tuple(names.values()), mapper.compressor,
                   mapper.cipher)

    def build(self) -> Mapper[Any]:
        """Returns a new mapper made to the recipe."""
        transcoder = self.transcoder_class()
        for transcoding in self.transcodings:
            transcoder.register(transcoding)
        return self.mapper_class(transcoder=transcoder, compressor=self.compressor,
                                 cipher=self.cipher)


class Replayer:
    """Decodes records with the application's mapper and rebuilds aggregates."""

    def __init__(self, mapper: Mapper[Any], checks: Sequence[ReplayCheck] = ()) -> None:
        self.mapper = mapper
        self.checks = list(checks)
        self.aggregates: dict[Any, Any] = {}
        self.decoded = 0

    def observe(self, leaf_index: int, record: LeafRecord) -> list[Fault]:
        """Decodes one record and applies it to its aggregate; returns any faults."""
        event, faults = self.rebuild(leaf_index, record)
        if event is not None:
            faults.extend(self.check(leaf_index, event))
        return faults

    def rebuild(self, leaf_index: int, record: LeafRecord) -> tuple[Any | None, list[Fault]]:
        """Decodes one record and applies it to its aggregate; returns the event (None
        when it does not decode) and the faults. The one owner of decoding and rebuild:
        the parallel audit's partitions run it in worker processes."""
        event_id = record.event_id
        try:
            event = self.mapper.to_domain_event(
                StoredEvent(record.originator_id, record.originator_version, record.topic,
                            record.state)
            )
        except Exception as e:  # any decoding failure is a finding, not a crash
            return None, [Fault(FaultKind.UNDECODABLE_EVENT, f"cannot decode: {e}",
                                leaf_index, event=event_id)]
        self.decoded += 1
        faults: list[Fault] = []
        try:
            aggregate = self.aggregates.get(record.originator_id)
            self.aggregates[record.originator_id] = event.mutate(aggregate)  # type: ignore[attr-defined]
        except Exception as e:
            faults.append(Fault(FaultKind.AGGREGATE_REBUILD,
                                f"event does not apply to its aggregate: {e}", leaf_index,
                                event=event_id))
        return event, faults

    def check(self, leaf_index: int, event: Any) -> list[Fault]:
        """Runs the checks over one decoded event (in log order); returns their faults."""
        faults: list[Fault] = []
        for check in self.checks:
            faults.extend(check.observe(leaf_index, event))
        return faults

    def projections(self) -> dict[type, Callable[[Any], Any]]:
        """Returns, by exact event class, the function that makes of such an event all the
        checks read of it (classes another check watches whole are left out)."""
        found: dict[type, Callable[[Any], Any]] = {}
        for check in self.checks:
            found.update(getattr(check, "projections", {}))
        for check in self.checks:
            own = getattr(check, "projections", {})
            watched = getattr(check, "watches", None) or (object,)
            for cls in list(found):
                if cls not in own and issubclass(cls, watched):
                    del found[cls]
        return found

    def watches(self) -> tuple[type, ...]:
        """Returns the event classes some check looks at (``object``: every event)."""
        watched: list[type] = []
        for check in self.checks:
            classes = getattr(check, "watches", None)
            if classes is None:
                return (object,)
            watched.extend(classes)
        return tuple(dict.fromkeys(watched))

    def finish(self) -> list[Fault]:
        """Runs the checks over the rebuilt aggregates; returns their faults."""
        faults: list[Fault] = []
        for check in self.checks:
            faults.extend(check.finish(self.aggregates))
        return faults


def default_checks(proof_progress: Callable[[int], None] | None = None) -> list[ReplayCheck]:
    """Returns the checks a full audit (with the cipher key) runs besides the rebuild.

    Hook for the verifier wiring: return here a check that re-verifies every stored proof
    batch through ``verifier`` and one that recomputes every reconciliation, each reporting
    a differing verdict as ``FaultKind.VERDICT_MISMATCH``. ``proof_progress`` is told
    how many shares each step of the proof check re-verified (the CLI's progress bar).
    """
    from ledger.audit.proof_checks import EnvelopeCheck, ProofReplayCheck

    return [ProofReplayCheck(progress=proof_progress), EnvelopeCheck()]
