"""Where a long text may be cut: the pieces both platforms' splitters share.

``Blocked`` holds ranges no cut may fall inside (an entity, a link, inline code);
``grapheme_start`` moves a cut back out of a grapheme (an emoji with its modifiers, a flag, a
letter with combining marks), so a message never ends half-way through one unless that one
grapheme is longer than a whole message.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable

_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")


class Blocked:
    """Merged index ranges no cut may fall strictly inside."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in sorted(ranges):
            if self.ends and start < self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def free_before(self, position: int) -> int:
        """``position``, or the start of the range it is strictly inside."""
        i = bisect_right(self.starts, position) - 1
        if i >= 0 and self.starts[i] < position < self.ends[i]:
            return self.starts[i]
        return position


NOTHING_BLOCKED = Blocked(())


def grapheme_start(text: str, position: int, low: int) -> int | None:
    """``position`` moved back out of a grapheme (emoji + variation selector, ZWJ sequences,
    combining marks, flags), not below ``low``; ``None`` when ``[low, position]`` lies inside
    one grapheme."""
    cut = position
    while cut > low and inside_grapheme(text, cut):
        cut -= 1
    return None if inside_grapheme(text, cut) else cut


def inside_grapheme(text: str, position: int) -> bool:
    if not 0 < position < len(text):
        return False
    before, after = text[position - 1], text[position]
    if after.isascii():
        return False
    if _regional(before) and _regional(after):  # flags: pairs of regional indicators
        return _regional_run(text, position) % 2 == 1
    return (
        after in _JOINERS
        or before == "\u200d"
        or "\U0001f3fb" <= after <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= after <= "\U000e007f"  # tag sequences
        or unicodedata.category(after) in ("Mn", "Mc", "Me")
    )


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _regional_run(text: str, position: int) -> int:
    """How many regional indicators there are in a row right before ``position``."""
    start = position
    while start > 0 and _regional(text[start - 1]):
        start -= 1
    return position - start
