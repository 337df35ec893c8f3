"""Verifier settings, from arguments or ``VALEDGER_VERIFIER_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from verifier.batch import DEFAULT_MAX_SHARES
from verifier.cpu import DEFAULT_INPROCESS_THRESHOLD

BACKEND_ENV = "VALEDGER_VERIFIER_BACKEND"
MAX_SHARES_ENV = "VALEDGER_VERIFIER_MAX_SHARES"
WORKERS_ENV = "VALEDGER_VERIFIER_WORKERS"
BACKEND_CHOICES = ("auto", "cpu", "cuda")


class InvalidVerifierConfig(ValueError):
    """A verifier setting that cannot be used."""


@dataclass(frozen=True)
class VerifierConfig:
    """How batches are verified.

    ``backend`` is ``auto`` (CUDA when CuPy sees a GPU, else CPU), ``cpu`` or ``cuda``;
    ``workers`` is the number of CPU worker processes (default: every core).
    """

    backend: str = "auto"
    max_shares: int = DEFAULT_MAX_SHARES
    workers: int | None = None
    inprocess_threshold: int = DEFAULT_INPROCESS_THRESHOLD

    def __post_init__(self) -> None:
        if self.backend not in BACKEND_CHOICES:
            raise InvalidVerifierConfig(
                f"backend must be one of {', '.join(BACKEND_CHOICES)}, got {self.backend!r}"
            )
        if self.max_shares < 1:
            raise InvalidVerifierConfig("max_shares must be at least 1")
        if self.workers is not None and self.workers < 1:
            raise InvalidVerifierConfig("workers must be at least 1")

    @classmethod
    def from_environment(
        cls,
        backend: str | None = None,
        max_shares: int | None = None,
        workers: int | None = None,
    ) -> VerifierConfig:
        """Returns a config from explicit values, falling back to VALEDGER_VERIFIER_*."""
        return cls(
            backend=(backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower(),
            max_shares=max_shares or _int_env(MAX_SHARES_ENV) or DEFAULT_MAX_SHARES,
            workers=workers or _int_env(WORKERS_ENV),
        )


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidVerifierConfig(f"{name} must be an integer, got {value!r}") from exc
