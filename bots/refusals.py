"""Refuse a stranger once, not on every message they send."""

from __future__ import annotations

from collections import OrderedDict

from core.ports import Clock


class RecentRefusals:
    """Remembers whom the bot refused lately (bounded, in memory: repeating a refusal after a
    restart is harmless)."""

    def __init__(self, clock: Clock, *, quiet_seconds: float = 3600.0, size: int = 10_000) -> None:
        self._clock = clock
        self._quiet = quiet_seconds
        self._size = size
        self._seen: OrderedDict[tuple[int, int], float] = OrderedDict()

    def first(self, chat_id: int, user_id: int) -> bool:
        """True when this user in this chat was not refused within the quiet period."""
        now = self._clock.monotonic()
        key = (chat_id, user_id)
        last = self._seen.get(key)
        if last is not None and now - last < self._quiet:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True
