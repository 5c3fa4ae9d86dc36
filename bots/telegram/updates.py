"""A long text that the Telegram app split into several messages is put back together.

Telegram apps cut a text longer than 4096 UTF-16 code units into several messages, each close to
the limit, sent one after the other. The parts are stored in the inbox as they arrive, like any
message; when the first comes up for an answer, it waits (at most ``window`` after the latest
part) for the rest, takes the parts that follow it in the chat from the same person, and the
answer is to the whole text, once. The parts taken are finished with the first one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from telegram import Bot, Message, Update

from bots.telegram.render import utf16_len
from core.domain import InboxEntry
from core.ports import Clock

# A part at least this long may be followed by more.
SPLIT_PART_MIN = 3500
MAX_PARTS = 16  # 64 K characters: more is not a text someone pasted

Following = Callable[[InboxEntry, int], Awaitable[list[InboxEntry]]]
Arrival = Callable[[InboxEntry, float], Awaitable[None]]


def message_of(entry: InboxEntry, bot: Bot) -> Message | None:
    update = Update.de_json(dict(entry.payload), bot)
    return update.message if update is not None else None


class SplitMessages:
    """Joins the parts of a split text (see the module docstring)."""

    def __init__(self, window: float, clock: Clock, min_part: int = SPLIT_PART_MIN) -> None:
        self._window = window
        self._clock = clock
        self._min_part = min_part

    def starts(self, message: Message) -> bool:
        return (
            self._window > 0
            and message.text is not None
            and message.from_user is not None
            and self._long(message.text)
        )

    async def collect(
        self,
        first: InboxEntry,
        message: Message,
        bot: Bot,
        following: Following,
        arrival: Arrival,
    ) -> tuple[str, list[InboxEntry]]:
        """The whole text that starts with ``message``, and the inbox entries of the parts
        after it (to be finished with it)."""
        while True:
            parts = self._parts(message, await following(first, MAX_PARTS), bot)
            last_text = parts[-1][1].text if parts else message.text
            last_at = parts[-1][0].received_at if parts else first.received_at
            left = self._left(last_at)
            if not self._long(last_text or "") or left <= 0 or len(parts) >= MAX_PARTS:
                texts = [message.text or "", *(m.text or "" for _, m in parts)]
                return "\n".join(texts), [entry for entry, _ in parts]
            await arrival(first, left)

    def _parts(
        self, first: Message, entries: Sequence[InboxEntry], bot: Bot
    ) -> list[tuple[InboxEntry, Message]]:
        """The entries right after the first that continue it: the same person's texts, each
        after a part long enough to be cut."""
        parts: list[tuple[InboxEntry, Message]] = []
        previous = first.text or ""
        for entry in entries:
            message = message_of(entry, bot)
            if (
                message is None
                or message.text is None
                or message.from_user is None
                or first.from_user is None
                or message.from_user.id != first.from_user.id
                or not self._long(previous)
            ):
                break
            parts.append((entry, message))
            previous = message.text
        return parts

    def _long(self, text: str) -> bool:
        return utf16_len(text) >= self._min_part

    def _left(self, since: datetime) -> float:
        return self._window - (self._clock.now() - since).total_seconds()
