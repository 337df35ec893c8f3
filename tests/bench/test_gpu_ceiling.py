"""The GPU ceiling benchmark: its Python reference is real SHA-256, and without CuPy it
says so instead of failing."""

from __future__ import annotations

import hashlib
import struct

import pytest

from bench.gpu_ceiling import IV, ROUND_CONSTANTS, compress, measure_ceiling, reference_word


def test_the_reference_compression_is_sha256() -> None:
    assert len(ROUND_CONSTANTS) == 64 and ROUND_CONSTANTS[0] == 0x428A2F98
    message = b"valedger ceiling"
    padded = message + b"\x80" + bytes(55 - len(message)) + struct.pack(">Q", 8 * len(message))
    state = compress(IV, list(struct.unpack(">16I", padded)))
    assert struct.pack(">8I", *state) == hashlib.sha256(message).digest()


def test_the_reference_chain_depends_on_every_iteration() -> None:
    assert reference_word(5, 3, 1) != reference_word(5, 2, 1) != reference_word(4, 2, 1)


def test_without_a_gpu_the_ceiling_is_not_measured() -> None:
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert measure_ceiling() is None
    else:  # pragma: no cover - only where CuPy is installed
        pytest.skip("CuPy is installed: the GPU bench measures the ceiling itself")
