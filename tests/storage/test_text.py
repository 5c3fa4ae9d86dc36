"""Text cleaning at the store boundary (see core.storage.text)."""

from __future__ import annotations

import pytest

from core.domain import JsonValue
from core.storage.text import clean_json, storable_text


@pytest.mark.parametrize(
    "text", ["", "plain ascii", "tab\tbell\x07esc\x1b", "中文 😀 e\u0301", "\ufffd", "\U0010ffff"]
)
def test_storable_text_is_returned_as_is(text: str) -> None:
    assert storable_text(text) is text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ud800", "\ufffd"),
        ("a\udc00b\ud800", "a\ufffdb\ufffd"),
        ("\ud83d\ude00", "😀"),
        ("\ude00\ud83d", "\ufffd\ufffd"),  # wrong order: not a pair
        ("\x00", "\ufffd"),
        ("中\x00\ud800", "中\ufffd\ufffd"),
    ],
)
def test_unstorable_characters_are_replaced(raw: str, clean: str) -> None:
    assert storable_text(raw) == clean
    clean.encode("utf-8")


def test_clean_json_keeps_structure_and_key_order() -> None:
    value: JsonValue = [{"z\ud800": ["\x00", 1, 2.5, None, True]}, {"b": {"a": "ok"}, "a": "x"}]

    cleaned = clean_json(value)

    assert cleaned == [{"z\ufffd": ["\ufffd", 1, 2.5, None, True]}, {"b": {"a": "ok"}, "a": "x"}]
    assert isinstance(cleaned, list)
    assert isinstance(cleaned[1], dict)
    assert list(cleaned[1]) == ["b", "a"]
