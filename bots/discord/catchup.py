"""Catch-up: what was said to the bot while it was away, answered once it is back.

Discord never redelivers gateway events, so a message addressed to the bot while it was down (a
restart, a deploy, a crash, a gateway session that could not be resumed) would never be
answered. On every new gateway session (READY), each Discord channel, thread and DM the bot has
a conversation in is read back from just after the newest message the bot stored there, but no
further back than ``DISCORD_CATCH_UP_MINUTES``; every message found goes through the usual
handler, oldest first, so it is answered in order, and only if it is addressed to the bot.
Messages the bot already stored (answered, or told it can't read them) are recognised by their
id and not answered twice.

A channel the bot can no longer read (deleted, permissions removed) is skipped with a log line.

Sharded (several replicas, one database holding every replica's conversations), a new session
on a shard reads back only that shard's conversations: the channels and threads of its guilds
(``(guild_id >> 22) % shard_count``), and DMs only on shard 0, where Discord delivers them. A
channel is placed by the guild discord.py knows it in (this replica holds exactly its shards'
guilds); one it does not know is a DM or another replica's: only shard 0 fetches it to see which.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import discord
from discord.utils import time_snowflake

from bots.discord.shards import Sharding
from core.domain import ChatCursor, ChatRef
from core.errors import InfrastructureError
from core.ports import ChatStore, Clock

log = logging.getLogger("chatrelay.discord")

PLATFORM = "discord"
PARALLEL_CHANNELS = 4  # channels read at once (discord.py waits out rate limits itself)
# discord.py gives a request up after 5 tries; a channel whose reading Discord keeps refusing
# for the moment (429, 5xx: a busy restart) is read on from where it stopped, with growing
# pauses, for up to this long. Messages in it would otherwise never be answered.
RETRY_SECONDS = 600.0
RETRY_FIRST = 1.0
RETRY_MOST = 30.0

Deliver = Callable[[discord.Message], Awaitable[None]]


class CatchUp:
    def __init__(
        self,
        *,
        client: discord.Client,
        store: ChatStore,
        deliver: Deliver,
        clock: Clock,
        minutes: float,
    ) -> None:
        self._client = client
        self._store = store
        self._deliver = deliver
        self._clock = clock
        self._minutes = minutes

    async def run(self, shards: Sharding | None = None) -> int:
        """Read back every conversation (only those of ``shards`` when given); return how many
        messages were handed over."""
        if self._minutes <= 0:
            return 0
        try:
            cursors = await self._store.chat_cursors(PLATFORM)
        except InfrastructureError:
            log.exception("catch-up skipped: the database did not answer")
            return 0
        gate = asyncio.Semaphore(PARALLEL_CHANNELS)
        counts = await asyncio.gather(*(self._one(cursor, gate, shards) for cursor in cursors))
        found = sum(counts)
        extra: dict[str, object] = {"channels": len(cursors), "messages": found}
        if shards is not None:
            extra["shards"] = str(shards)
        log.info("discord catch-up done", extra=extra)
        return found

    async def _one(
        self, cursor: ChatCursor, gate: asyncio.Semaphore, shards: Sharding | None
    ) -> int:
        async with gate:
            if shards is not None and not self._may_be_ours(cursor.ref, shards):
                return 0
            channel = await self._channel(cursor)
            if channel is None:
                return 0
            if shards is not None and not shards.owns(guild_id_of(channel)):
                return 0
            return await self._read(channel, cursor)

    async def _read(self, channel: discord.abc.Messageable, cursor: ChatCursor) -> int:
        """Hand over the channel's messages after the cursor, in order; after a transient
        refusal, go on from the last one handed over (see RETRY_SECONDS)."""
        after = self._after(cursor)
        count = 0
        pause = RETRY_FIRST
        deadline = self._clock.monotonic() + RETRY_SECONDS
        while True:
            try:
                async for message in channel.history(
                    limit=None, after=discord.Object(after), oldest_first=True
                ):
                    await self._deliver(message)
                    after = message.id
                    count += 1
            except discord.HTTPException as error:
                if not transient(error) or self._clock.monotonic() >= deadline:
                    log.warning(
                        "catch-up of a channel stopped",
                        extra={"chat": str(cursor.ref), "status": error.status},
                    )
                    return count
                log.info(
                    "catch-up of a channel waits for Discord",
                    extra={"chat": str(cursor.ref), "status": error.status, "retry_in": pause},
                )
            else:
                return count
            await self._clock.sleep(pause)
            pause = min(pause * 2, RETRY_MOST)

    def _after(self, cursor: ChatCursor) -> int:
        """Just after the newest stored message, but within the catch-up window."""
        horizon = time_snowflake(self._clock.now() - timedelta(minutes=self._minutes))
        last = cursor.last_message_id
        return max(horizon, int(last)) if last is not None and last.isdigit() else horizon

    def _may_be_ours(self, ref: ChatRef, shards: Sharding) -> bool:
        """Whether a conversation may belong to ``shards``, decided without a request: a
        channel discord.py knows (or a thread whose parent it knows) is in a guild of this
        replica or a DM it saw; one it does not know is a DM or another replica's guild's, to
        be fetched only where DMs come (shard 0)."""
        known = self._client.get_channel(int(ref.thread_id or ref.chat_id))
        if known is None and ref.thread_id:
            known = self._client.get_channel(int(ref.chat_id))
        if known is None:
            return shards.has_dms
        return shards.owns(guild_id_of(known))

    async def _channel(self, cursor: ChatCursor) -> discord.abc.Messageable | None:
        ref = cursor.ref
        channel_id = int(ref.thread_id or ref.chat_id)
        channel = self._client.get_channel(channel_id)
        pause = RETRY_FIRST
        deadline = self._clock.monotonic() + RETRY_SECONDS
        while channel is None:
            try:
                channel = await self._client.fetch_channel(channel_id)
            except discord.HTTPException as error:
                if not transient(error) or self._clock.monotonic() >= deadline:
                    # gone, no longer ours to read, or Discord kept refusing
                    log.info(
                        "catch-up: channel not readable",
                        extra={"chat": str(ref), "status": error.status},
                    )
                    return None
                await self._clock.sleep(pause)
                pause = min(pause * 2, RETRY_MOST)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        return channel


def transient(error: discord.HTTPException) -> bool:
    """Discord refused for the moment (rate limited, or its own failure): worth trying again."""
    return error.status == 429 or error.status >= 500


def guild_id_of(channel: object) -> int | None:
    """The guild a channel or thread is in (None: a DM)."""
    if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return channel.guild.id
    return None
