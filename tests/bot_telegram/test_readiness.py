"""``/readyz`` says Telegram is not ready while getUpdates keeps failing, and why, and ready
again once updates arrive."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from bots.health import HealthServer
from bots.telegram.app import TelegramBot
from bots.telegram.settings import TelegramSettings
from core.app import build_core
from core.settings import Settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram
from tests.support.clock import ScaledClock

from .conftest import API_KEY, TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def bot_with_health(
    tg: FakeTelegram, openrouter: FakeOpenRouter, clock: ScaledClock, database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The bot polling the fake, with the health endpoint as ``chatrelay run`` serves it; yields
    a client for that endpoint."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        openrouter_api_key=API_KEY,
        openrouter_base_url=openrouter.base_url,
        database_url=database,
    )
    tg_settings = TelegramSettings(  # type: ignore[call-arg]
        _env_file=None, telegram_bot_token=TOKEN, telegram_base_url=f"{tg.base_url}/bot"
    )
    port = free_port()
    async with build_core(settings, clock=clock) as core:
        bot = TelegramBot(tg_settings, core, clock)
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


def failed_polls(tg: FakeTelegram) -> int:
    return sum(1 for call in tg.calls if call.method == "getUpdates" and call.status != 200)


@pytest.mark.parametrize(
    ("outage", "reason"),
    [
        ({"disconnect": True}, "network error"),
        ({"code": 502, "description": "Bad Gateway"}, "HTTP 502: Bad Gateway"),
        (
            {"code": 409, "description": "Conflict: terminated by other getUpdates request"},
            "HTTP 409: Conflict",
        ),
    ],
)
async def test_readyz_is_503_with_the_reason_while_polling_fails_and_200_once_it_works(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    clock: ScaledClock,
    database: str,
    outage: dict[str, object],
    reason: str,
) -> None:
    chat = tg.private_chat(3001, "Ann")
    async with bot_with_health(tg, openrouter, clock, database) as health:
        ready_before = await health.get("/readyz")
        tg.break_method("getUpdates", **outage)  # type: ignore[arg-type]
        # a second failed poll is sent only after the bot has seen the first one fail
        await tg.wait_for(lambda: failed_polls(tg) >= 2, timeout=10)
        not_ready = await health.get("/readyz")
        tg.repair("getUpdates")
        await tg.user_says(chat, None, "are you back?")
        [answer] = await tg.wait_for_sent(chat, 1, timeout=15)
        ready_after = await health.get("/readyz")
    assert ready_before.status_code == 200
    assert not_ready.status_code == 503
    check = not_ready.json()["checks"]["telegram"]
    assert check.startswith("not connected: getUpdates is failing")
    assert reason in check
    assert TOKEN not in not_ready.text
    assert answer.text == "Echo: are you back?"
    assert ready_after.status_code == 200
    assert ready_after.json()["checks"]["telegram"] == "connected"
