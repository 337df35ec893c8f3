"""Backend selection and configuration."""

from __future__ import annotations

import pytest

from verifier.backends import select_backend
from verifier.config import BACKEND_ENV, InvalidVerifierConfig, VerifierConfig
from verifier.cuda import CudaUnavailable, cuda_available


def test_auto_prefers_cuda_and_falls_back_to_cpu():
    backend = select_backend(VerifierConfig(backend="auto"))
    assert backend.name == ("cuda" if cuda_available() else "cpu")


def test_cpu_can_be_forced_by_environment(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "CPU")
    assert VerifierConfig.from_environment().backend == "cpu"
    assert select_backend().name == "cpu"


def test_forcing_cuda_without_a_gpu_is_a_clear_error():
    if cuda_available():
        assert select_backend(VerifierConfig(backend="cuda")).name == "cuda"
    else:
        with pytest.raises(CudaUnavailable):
            select_backend(VerifierConfig(backend="cuda"))


def test_bad_settings_are_refused(monkeypatch):
    with pytest.raises(InvalidVerifierConfig):
        VerifierConfig(backend="fpga")
    with pytest.raises(InvalidVerifierConfig):
        VerifierConfig(max_shares=0)
    monkeypatch.setenv("VALEDGER_VERIFIER_WORKERS", "many")
    with pytest.raises(InvalidVerifierConfig):
        VerifierConfig.from_environment()
