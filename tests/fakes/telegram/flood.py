"""Telegram's flood control: about 1 message a second per chat (with a short burst), 20 a minute
per group, about 30 a second overall. Edits count like sends. Time comes from an injectable clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class FloodLimits:
    """Set a rate to 0 to switch that limit off; ``enabled=False`` switches all off."""

    enabled: bool = True
    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: float = 30.0
    global_burst: int = 30
    drafts_count: bool = False  # sendMessageDraft under the same limits (Telegram: unknown)

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(enabled=False)


class _Bucket:
    """A token bucket: ``capacity`` at once, refilled at ``rate`` a second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(max(capacity, 1))
        self.tokens = self.capacity
        self.updated = now

    def wait(self, now: float) -> float:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class _Window:
    """At most ``limit`` events in any ``seconds`` window."""

    __slots__ = ("events", "limit", "seconds")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.events: deque[float] = deque()

    def wait(self, now: float) -> float:
        events = self.events
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return 0.0 if len(events) < self.limit else events[0] + self.seconds - now

    def take(self, now: float) -> None:
        self.events.append(now)


class FloodControl:
    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._chats: dict[int, _Bucket] = {}
        self._groups: dict[int, _Window] = {}
        self._global: _Bucket | None = None
        self.rejected = 0

    def reset(self) -> None:
        self._chats.clear()
        self._groups.clear()
        self._global = None
        self.rejected = 0

    def admit(self, chat_id: int) -> int | None:
        """None when a message to ``chat_id`` may go now (and count it), else retry_after."""
        limits = self.limits
        if not limits.enabled:
            return None
        now = self.clock()
        waits = []
        chat = group = None
        if limits.global_per_second > 0:
            if self._global is None:
                self._global = _Bucket(limits.global_per_second, limits.global_burst, now)
            waits.append(self._global.wait(now))
        if limits.chat_per_second > 0:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = _Bucket(
                    limits.chat_per_second, limits.chat_burst, now
                )
            waits.append(chat.wait(now))
        if chat_id < 0 and limits.group_per_minute > 0:
            group = self._groups.get(chat_id)
            if group is None:
                group = self._groups[chat_id] = _Window(limits.group_per_minute, 60.0)
            waits.append(group.wait(now))
        longest = max(waits, default=0.0)
        if longest > 0:
            self.rejected += 1
            return max(1, math.ceil(longest - 1e-9))
        if self._global is not None and limits.global_per_second > 0:
            self._global.take()
        if chat is not None:
            chat.take()
        if group is not None:
            group.take(now)
        return None
