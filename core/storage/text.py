"""Text hygiene at the store boundary.

Both databases store UTF-8 text, and PostgreSQL refuses NUL characters in ``text`` and ``json``.
A Python ``str`` can still hold lone UTF-16 surrogates (``"\\ud800"``: broken input from a
platform or a model) and NULs. Rather than fail a whole message, the store replaces each of them
with U+FFFD REPLACEMENT CHARACTER, the same way on SQLite and PostgreSQL. A surrogate *pair*
smuggled in as two code points is joined into the character it encodes.
"""

from __future__ import annotations

import re

from core.domain import JsonValue
from core.text import repair_surrogates

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` itself when storable, else a copy with NULs and lone surrogates replaced."""
    if text.isascii():
        return text if "\x00" not in text else text.replace("\x00", REPLACEMENT)
    if _UNSTORABLE.search(text) is None:
        return text
    return repair_surrogates(text).replace("\x00", REPLACEMENT)


def clean_json(value: JsonValue) -> JsonValue:
    """``storable_text`` applied to every string (keys too) of a JSON value; order is kept."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {storable_text(key): clean_json(item) for key, item in value.items()}
    return value
