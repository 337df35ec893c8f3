"""Base64 in event state (``ledger.domain.base64_text``): the fast codec gives exactly
the standard library's texts, bytes and refusals."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.base64_text import MIN_SPLICE_CHARS, Base64Text, base64_bytes, base64_text

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Texts near base64: its alphabet, padding in and out of place, a few strangers.
near_base64 = st.text(alphabet=ALPHABET + "=\n -_é\x00", max_size=40)


def outcome(decode: Callable[..., bytes], text: str | bytes,
            validate: bool) -> bytes | type[BaseException]:
    """Returns what ``decode`` makes of the text, or the kind of error it raises."""
    try:
        return decode(text, validate=validate)
    except ValueError as exc:
        return type(exc)


def standard(text: str | bytes, validate: bool) -> bytes | type[BaseException]:
    return outcome(base64.b64decode, text, validate)


def ours(text: str | bytes, validate: bool) -> bytes | type[BaseException]:
    return outcome(base64_bytes, text, validate)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_texts_are_the_standard_librarys_and_decode_back(data: bytes) -> None:
    text = base64_text(data)
    assert text == base64.b64encode(data).decode("ascii")
    assert base64_bytes(text) == data and base64_bytes(text.encode()) == data


@settings(max_examples=1000, deadline=None)
@given(near_base64, st.booleans())
def test_any_text_decodes_or_is_refused_exactly_as_the_standard_library_does(
        text: str, validate: bool) -> None:
    assert ours(text, validate) == standard(text, validate)
    if text.isascii():
        assert ours(text.encode(), validate) == standard(text.encode(), validate)


@pytest.mark.parametrize(("text", "validate"), [
    ("YWJj=", True),  # excess padding: the standard library accepts it
    ("YW Jj", True), ("YW Jj", False), ("abc", True), ("Y", False), ("é", True), ("", True),
])
def test_named_edges_match_the_standard_library(text: str, validate: bool) -> None:
    assert ours(text, validate) == standard(text, validate)


def test_long_texts_are_marked_for_splicing_and_megabytes_round_trip() -> None:
    data = os.urandom(5_000_000)
    text = base64_text(data)
    assert type(text) is Base64Text and len(text) >= MIN_SPLICE_CHARS
    assert text == base64.b64encode(data).decode("ascii")
    assert base64_bytes(text) == data
