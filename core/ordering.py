"""Per-chat ordering: one message of a chat at a time, in arrival order; chats run in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.domain import ChatRef


class LocalChatLocks:
    """A FIFO lock per chat, kept only while someone holds or waits for it.

    This is the single-process implementation of core.ports.ChatSerializer; replicas sharing a
    database replace it with a database lock keyed the same way.
    """

    def __init__(self) -> None:
        self._locks: dict[ChatRef, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, chat: ChatRef) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat, (asyncio.Lock(), 0))
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)
