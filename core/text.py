"""Making arbitrary user input safe to store, count and send."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def repair_surrogates(text: str) -> str:
    """Join surrogate pairs smuggled in as two code points; lone surrogates become U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_text(text: str) -> str:
    """Join surrogate pairs, replace lone surrogates with U+FFFD, normalise newlines and drop
    control characters that no model or database wants."""
    text = repair_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)
