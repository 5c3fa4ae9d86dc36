"""core.text on hostile input: what survives, what goes, and how fast."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.storage.text import REPLACEMENT, storable_text
from core.text import clean_text

# Any text, with lone surrogates and control characters far more often than chance gives them.
HOSTILE_TEXT = st.lists(
    st.one_of(
        st.characters(),
        st.integers(0xD800, 0xDFFF).map(chr),
        st.integers(0, 0x9F).map(chr),
        st.sampled_from(["\r\n", "\u200d", "\u202e", "\ufeff"]),
    )
).map("".join)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"


@pytest.mark.parametrize(
    "text",
    [
        "مرحبا بالعالم \u202eabc\u202c \u200f\u200e",
        FAMILY * 100,
        "e\u0301" * 1000,  # combining accents
        "tab\tand\nnewline",
        "\u2028\u2029\ufeff\u200b",
    ],
)
def test_clean_text_keeps_what_people_write(text: str) -> None:
    assert clean_text(text) == text


def test_clean_text_on_a_megabyte_of_mixed_garbage_is_quick_and_clean() -> None:
    text = ("ok\x00\x1b[2J\ud800\r\n\x9b" + FAMILY) * (1024 * 1024 // 20)
    started = time.monotonic()
    cleaned = clean_text(text)
    assert time.monotonic() - started < 2
    assert cleaned == ("ok[2J\ufffd\n" + FAMILY) * (1024 * 1024 // 20)
    assert storable_text(cleaned) == cleaned


def test_storable_text_replaces_what_a_database_refuses() -> None:
    assert storable_text("a\x00b\udc80c\ud83d\ude00") == f"a{REPLACEMENT}b{REPLACEMENT}c\U0001f600"


@given(HOSTILE_TEXT)
def test_clean_text_always_gives_storable_utf8_without_controls(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogate survives
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in cleaned)
    assert not any(0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert storable_text(cleaned) == cleaned
    assert clean_text(cleaned) == cleaned


@given(HOSTILE_TEXT)
def test_storable_text_is_always_utf8_without_nul(text: str) -> None:
    stored = storable_text(text)
    stored.encode("utf-8")
    assert "\x00" not in stored
    assert storable_text(stored) == stored
