"""How updates are scheduled: chats in parallel, one update at a time within a chat, in arrival
order; and a long text that the Telegram app split into several messages is put back together."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Message, Update
from telegram.ext import BaseUpdateProcessor

from bots.telegram.render import utf16_len

# Telegram apps cut text longer than 4096 UTF-16 code units into several messages, each close
# to the limit; a part at least this long may be followed by more.
SPLIT_PART_MIN = 3500
# PTB's semaphore, taken before an update can wait for its chat, is not the limit here.
UNBOUNDED = 2**31 - 1


def _message(update: object) -> Message | None:
    return update.message if isinstance(update, Update) else None


@dataclass(slots=True)
class _Pending:
    parts: list[str]
    last_long: bool = True
    more: asyncio.Event = field(default_factory=asyncio.Event)


class SplitMessages:
    """Joins a long text that arrives as several messages from one user within ``window``.

    The first part waits (at most ``window`` after the latest part) for the rest; the parts that
    follow are absorbed and never answered on their own. The answer is to the whole text, once.
    """

    def __init__(self, window: float, min_part: int = SPLIT_PART_MIN) -> None:
        self._window = window
        self._min_part = min_part
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._joined: dict[tuple[int, int], str] = {}

    @staticmethod
    def _key(message: Message) -> tuple[int, int] | None:
        if message.text is None or message.from_user is None:
            return None
        return message.chat.id, message.from_user.id

    def starts(self, message: Message) -> bool:
        return (
            self._window > 0
            and self._key(message) is not None
            and utf16_len(message.text or "") >= self._min_part
        )

    def absorb(self, message: Message) -> bool:
        """Take ``message`` as the next part of a pending split text; False if it is not one."""
        key = self._key(message)
        pending = self._pending.get(key) if key is not None else None
        if pending is None or message.text is None:
            return False
        pending.parts.append(message.text)
        pending.last_long = utf16_len(message.text) >= self._min_part
        pending.more.set()
        return True

    async def collect(self, message: Message) -> None:
        """Wait for the parts that follow ``message``; afterwards ``text_of`` gives the whole."""
        key = self._key(message)
        if key is None or key in self._pending:
            return
        pending = self._pending[key] = _Pending([message.text or ""])
        try:
            while pending.last_long:
                pending.more.clear()
                try:
                    await asyncio.wait_for(pending.more.wait(), self._window)
                except TimeoutError:
                    break
        finally:
            del self._pending[key]
        if len(pending.parts) > 1:
            self._joined[(message.chat.id, message.message_id)] = "\n".join(pending.parts)

    def text_of(self, message: Message) -> str | None:
        """The joined text when ``message`` was the first of several parts (once)."""
        return self._joined.pop((message.chat.id, message.message_id), None)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """PTB update processor: concurrent across chats, sequential within a chat.

    Order within a chat is the order in which updates arrive here (PTB hands them over in
    ``update_id`` order). The core also serialises per chat; this layer keeps the adapter's own
    work (downloads, merging split messages) in order too.

    At most ``max_concurrent_updates`` updates are worked on at once, and an update waiting for
    its chat's previous one holds no slot: PTB's own semaphore is taken before
    ``do_process_update`` (in the final ``process_update``), so it is left unbounded here and
    the slot is taken once the chat's turn has come. One busy group can't stall other chats.
    """

    def __init__(self, max_concurrent_updates: int, splits: SplitMessages) -> None:
        super().__init__(UNBOUNDED)
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be at least 1")
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._splits = splits
        self._tails: dict[int, asyncio.Future[None]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        message = _message(update)
        if message is not None and self._splits.absorb(message):
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # a continuation: answered with the first part
            return
        key = message.chat.id if message is not None else 0
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done
        try:
            if message is not None and self._splits.starts(message):
                await self._splits.collect(message)
            if previous is not None:
                await asyncio.shield(previous)
            async with self._slots:
                await coroutine
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
