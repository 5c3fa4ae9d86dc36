"""Rate limits (scripted and enforced 429s that discord.py sleeps through), rate-limit headers,
privileged intents (close 4014), auth, gateway resume, and the standalone server."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import discord
import pytest

from tests.fakes.discord import FakeDiscord, RateLimits

from .conftest import World
from .helpers import intents, make_client, running

POST_MESSAGE = "POST /channels/{channel_id}/messages"


async def test_scripted_429_then_send_succeeds(world: World) -> None:
    fake = world.fake
    async with running(fake, make_client()) as client:
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit(POST_MESSAGE, retry_after=0.05)
        sent = await channel.send("after a 429")
    statuses = [c.status for c in fake.calls_to(POST_MESSAGE)]
    assert statuses == [429, 200]
    assert [m.id for m in fake.sent[world.general.id]] == [sent.id]


@pytest.mark.parametrize(
    "limits",
    [RateLimits(message_limit=100, global_limit=3, global_window=0.1)],
    ids=["global-3-per-100ms"],
)
async def test_global_limit_429_is_retried(world: World, limits: RateLimits) -> None:
    # the fake's clock must move for windows to end: use real time for this test
    fake = world.fake
    fake.limiter.clock = asyncio.get_running_loop().time
    fake.limiter.reset()
    async with running(fake, make_client()) as client:
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        await asyncio.gather(*(channel.send(f"m{i}") for i in range(4)))
    assert sorted(m.content for m in fake.sent[world.general.id]) == ["m0", "m1", "m2", "m3"]
    refused = [c for c in fake.calls if c.status == 429]
    assert refused


async def test_rate_limit_headers_and_429_shape(world: World) -> None:
    fake = world.fake
    fake.set_rate_limits(RateLimits(message_limit=1, message_window=60.0))
    auth = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.base_url}/api/v10/channels/{world.general.id}/messages"
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(url, json={"content": "one"}) as first:
            assert first.status == 200
            assert first.headers["Content-Type"] == "application/json"
            assert first.headers["X-RateLimit-Limit"] == "1"
            assert first.headers["X-RateLimit-Remaining"] == "0"
            assert float(first.headers["X-RateLimit-Reset-After"]) == pytest.approx(60.0)
            assert first.headers["X-RateLimit-Bucket"]
            assert float(first.headers["X-RateLimit-Reset"]) > 0
        async with http.post(url, json={"content": "two"}) as second:
            assert second.status == 429
            body = await second.json()
            assert body == {
                "message": "You are being rate limited.",
                "retry_after": 60.0,
                "global": False,
            }
            assert second.headers["Retry-After"]
            assert second.headers["Via"]
            assert second.headers["X-RateLimit-Scope"] == "user"
        async with http.post(url, data=b"{}") as bad:
            assert bad.status == 429  # still limited, whatever the body
        other = f"{fake.base_url}/api/v10/channels/{world.guild.channels[1].id}/messages"
        async with http.post(other, json={}) as empty:
            assert empty.status == 400
            assert (await empty.json())["code"] == 50006
        async with http.post(
            other, json={"content": "x"}, headers={"Authorization": "Bot no"}
        ) as r:
            assert r.status == 401


async def test_missing_message_content_intent_closes_4014(world: World) -> None:
    fake = world.fake
    fake.privileged_intents = 0
    client = make_client(intents=intents(message_content=True))
    with fake.patch_discord(), pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(client.start(fake.token), 5)
    await client.close()
    assert fake.gateway_closes == [(4014, "Disallowed intent(s).")]
    # without asking for it the same client configuration connects
    async with running(fake, make_client(intents=intents(message_content=False))):
        pass


async def test_gateway_close_4000_resumes_and_replays(world: World) -> None:
    fake = world.fake
    client = make_client()
    seen: asyncio.Queue[str] = asyncio.Queue()
    resumed = asyncio.Event()

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.put_nowait(message.content)

    @client.event
    async def on_resumed() -> None:
        resumed.set()

    async with running(fake, client):
        await fake.close_gateway(4000)
        await fake.user_says(world.general, world.alice, "while away")  # buffered
        await asyncio.wait_for(resumed.wait(), 5)
        assert await asyncio.wait_for(seen.get(), 5) == "while away"
    assert len(fake.identifies) == 1
    assert fake.gateway_connections == 2


async def test_standalone_prints_urls_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.discord", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        gateway = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        assert base.startswith("http://127.0.0.1:")
        assert base.endswith("/api/v10")
        assert gateway.startswith("ws://127.0.0.1:")
        token = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token"
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base}/users/@me", headers={"Authorization": f"Bot {token}"}) as me,
        ):
            assert me.status == 200
            assert (await me.json())["bot"] is True
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_fake_standalone_default_token_matches(fake: FakeDiscord) -> None:
    assert fake.token == "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token"
