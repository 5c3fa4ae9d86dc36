"""Sharding, as Discord does it, seen by discord.py's AutoShardedClient: a guild's events only on
its shard ``(guild_id >> 22) % num_shards``, DMs only on shard 0, an invalid shard closes 4010,
too many guilds on one session closes 4011, and ``GET /gateway/bot`` matches the fake."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakes.discord import FakeDiscord, shard_of

from .helpers import intents, running


def sharded(shard_id: int, count: int = 2, **options: Any) -> discord.AutoShardedClient:
    """One shard per client, as one replica of several runs it (no 5 s wait between IDENTIFYs)."""
    options.setdefault("guild_ready_timeout", 0.01)
    return discord.AutoShardedClient(
        intents=intents(), shard_ids=[shard_id], shard_count=count, **options
    )


def collecting(client: discord.Client) -> asyncio.Queue[str]:
    """Every message the client sees, by content."""
    seen: asyncio.Queue[str] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.put_nowait(message.content)

    return seen


async def test_each_shard_gets_its_guilds_and_only_shard_zero_gets_dms(fake: FakeDiscord) -> None:
    zero, one = fake.guild("Zero", shard=(0, 2)), fake.guild("One", shard=(1, 2))
    assert (shard_of(zero.id, 2), shard_of(one.id, 2)) == (0, 1)
    in_zero, in_one = fake.text_channel(zero), fake.text_channel(one)
    alice = fake.user("alice")
    first, second = sharded(0), sharded(1)
    seen_first, seen_second = collecting(first), collecting(second)
    async with running(fake, first), running(fake, second):
        assert [g.id for g in first.guilds] == [zero.id]
        assert [g.id for g in second.guilds] == [one.id]
        await fake.user_says(in_one, alice, "to shard one")
        await fake.user_says(fake.dm_channel(alice), alice, "a dm")
        await fake.user_says(in_zero, alice, "to shard zero")
        assert await asyncio.wait_for(seen_second.get(), 5) == "to shard one"
        assert [await asyncio.wait_for(seen_first.get(), 5) for _ in range(2)] == [
            "a dm",
            "to shard zero",
        ]
    sent = {
        session.shard: [e["d"]["content"] for e in session.events if e["t"] == "MESSAGE_CREATE"]
        for session in fake.sessions.values()
    }
    assert sent == {(0, 2): ["a dm", "to shard zero"], (1, 2): ["to shard one"]}
    assert [identify["shard"] for identify in fake.identifies] == [[0, 2], [1, 2]]
    readies = [e.d for e in fake.gateway_log if e.direction == "out" and e.t == "READY"]
    assert [(r["shard"], [g["id"] for g in r["guilds"]]) for r in readies] == [
        ([0, 2], [str(zero.id)]),
        ([1, 2], [str(one.id)]),
    ]
    assert fake.calls_to("GET /gateway/bot") == []  # a shard count given: never asked


async def test_interactions_go_to_the_guilds_shard(fake: FakeDiscord) -> None:
    one = fake.guild("One", shard=(1, 2))
    channel, alice = fake.text_channel(one), fake.user("alice")
    first, second = sharded(0), sharded(1)
    got: dict[str, list[int | None]] = {"first": [], "second": []}

    @first.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        got["first"].append(interaction.guild_id)

    @second.event
    async def on_interaction(interaction: discord.Interaction) -> None:  # noqa: F811
        got["second"].append(interaction.guild_id)
        await interaction.response.send_message("here")

    async with running(fake, first), running(fake, second):
        interaction = await fake.user_runs_command(channel, alice, "anything")
        await fake.wait_for_response(interaction)
    assert got == {"first": [], "second": [one.id]}


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [1], "0,2"])
async def test_an_invalid_shard_closes_4010(fake: FakeDiscord, shard: object) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        await ws.receive_json()  # HELLO
        identify = {"token": fake.token, "intents": 0, "properties": {}, "shard": shard}
        await ws.send_json({"op": 2, "d": identify})
        closed = await ws.receive()
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert (closed.data, closed.extra) == (4010, "Invalid shard.")
    assert fake.sessions == {}


async def test_discord_py_with_a_shard_beyond_the_count_fails_with_4010(fake: FakeDiscord) -> None:
    client = sharded(2)  # discord.py does not check shard_ids against shard_count itself
    with fake.patch_discord(), pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(client.start(fake.token), 5)
    await client.close()
    assert closed.value.code == 4010


async def test_too_many_guilds_for_one_session_closes_4011(fake: FakeDiscord) -> None:
    fake.max_guilds_per_shard = 1
    fake.guild("Zero", shard=(0, 2))
    fake.guild("One", shard=(1, 2))
    client = discord.Client(intents=intents(), guild_ready_timeout=0.01)
    with fake.patch_discord(), pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(client.start(fake.token), 5)
    await client.close()
    assert closed.value.code == 4011
    async with running(fake, sharded(0)), running(fake, sharded(1)):
        pass  # one guild each: accepted


async def test_gateway_bot_recommends_shards_and_counts_session_starts(fake: FakeDiscord) -> None:
    fake.recommended_shards = 3
    headers = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.base_url}/api/v10/gateway/bot"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(url) as response:
            before = await response.json()
        async with running(fake, sharded(0, 3)):
            pass
        async with session.get(url) as response:
            after = await response.json()
    assert before["url"] == fake.gateway_url.rstrip("/")
    assert before["shards"] == 3
    limit = before["session_start_limit"]
    assert limit["max_concurrency"] == 1
    assert after["session_start_limit"]["remaining"] == limit["remaining"] - 1
