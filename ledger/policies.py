"""Policies: the regulator sets parameters, each effective from a time no earlier than
the server recorded it (a rule never changes the past); observations of the world (the
network's difficulty, subsidy and fees, exchange rates) may be recorded for the time they
held, as far back as the regulator's window."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from ledger.commands import UseCase
from ledger.domain.policy import POLICY_ID, Policy, is_observation, validate
from ledger.errors import InvalidRequest
from ledger.receipts import Receipt
from ledger.requests import REGULATOR
from ledger.validation import check_text, event_time, optional_time
from ledger.windows import WindowKind, check_window


class Policies(UseCase):
    """Sets and reads the versioned national policy."""

    def set_policy(self, request_id: str, parameter: str, value: str,
                   effective_from: datetime | None = None,
                   at: datetime | None = None) -> Receipt:
        """Sets a parameter from ``effective_from`` (default: when recorded) on; an
        effective time before the server's clock is refused (InvalidRequest)."""
        check_text("parameter", parameter, 100)
        check_text("value", value, 200)
        canonical = validate(parameter, value)
        given = optional_time(effective_from, "effective_from")
        stamp, when = self.begin("SetPolicy", REGULATOR, request_id, at, WindowKind.REGULATOR,
                                 parameter=parameter, value=canonical, effective_from=given)
        recorded_at, digest = stamp.recorded_at, stamp.digest
        effective = given or recorded_at
        if is_observation(parameter):
            # An observation (network figures, exchange rates) holds from when it was
            # observed: as far back as the regulator's window.
            check_window(WindowKind.REGULATOR, effective, recorded_at,
                         self.store.policy_at(recorded_at))
        elif effective < recorded_at:
            raise InvalidRequest("effective_from",
                                 f"{effective.isoformat()} is before the server recorded the "
                                 f"change ({recorded_at.isoformat()}): a rule never takes "
                                 "effect in the past")

        def attempt() -> Receipt:
            policy = cast(Policy | None, self.store.find(POLICY_ID)) or Policy()
            seen = policy.version_of_request(REGULATOR, request_id, digest)
            if seen is not None:
                return Receipt(POLICY_ID, seen, replayed=True)
            policy.set(request_id=request_id, at=when, parameter=parameter, value=canonical,
                       effective_from=effective)
            self.store.save(policy)
            return Receipt(POLICY_ID, policy.version)

        return self.run(stamp, attempt)

    def get_policy(self, parameter: str, at: datetime | None = None) -> str:
        """Returns the value of a parameter in force at ``at`` (default: now)."""
        view = self.store.policy_at(event_time(at, self.clock()))
        try:
            return view.text(parameter)
        except KeyError:
            raise InvalidRequest("parameter",
                                 f"unknown policy parameter {parameter[:100]!r}") from None
