"""``/readyz`` says Discord is not ready while the gateway connection is down, and why, and
ready again once discord.py has resumed."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bots.discord.app import DiscordBot
from bots.health import HealthServer
from core.app import build_core
from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock

from .conftest import World, bot_settings, core_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def bot_with_health(
    fake: FakeDiscord, openrouter: FakeOpenRouter, clock: ScaledClock, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The bot connected to the fake, with the health endpoint as ``chatrelay run`` serves it;
    yields a client for that endpoint."""
    settings = core_settings(openrouter, tmp_path)
    discord_settings = bot_settings(fake)
    port = free_port()
    async with build_core(settings, clock=clock) as core:
        bot = DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01)
        health = HealthServer(
            host="127.0.0.1", port=port, metrics=core.metrics, engine=core.engine, platforms=[bot]
        )
        await health.start()
        await bot.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                yield client
        finally:
            await bot.stop()
            await health.stop()


async def test_readyz_is_503_with_the_reason_while_the_gateway_is_down_and_200_after(
    world: World, openrouter: FakeOpenRouter, clock: ScaledClock, tmp_path: Path
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    async with bot_with_health(fake, openrouter, clock, tmp_path) as health:
        ready_before = await health.get("/readyz")
        await fake.drop_gateway()
        # discord.py tries again at once; that attempt is refused after it saw the drop
        await fake.wait_for(lambda: fake.gateway_refusals >= 1, timeout=10)
        not_ready = await health.get("/readyz")
        fake.restore_gateway()
        await fake.user_says(dm, world.alice, "are you back?")  # delivered on RESUME
        [answer] = await fake.wait_for_sent(dm, 1, timeout=20)
        ready_after = await health.get("/readyz")
    assert ready_before.status_code == 200
    assert not_ready.status_code == 503
    check = not_ready.json()["checks"]["discord"]
    assert check.startswith("not connected: gateway disconnected, reconnecting")
    assert fake.token not in not_ready.text
    assert answer.content == "Echo: are you back?"
    assert ready_after.status_code == 200
    assert ready_after.json()["checks"]["discord"] == "connected"
