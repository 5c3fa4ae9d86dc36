"""The fake Telegram Bot API on a real socket, with the real python-telegram-bot pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from tests.fakes.telegram import FakeTelegram, FloodLimits
from tests.support.clock import FakeClock

from .helpers import TOKEN, USERNAME, AppFactory, make_bot, request


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limits() -> FloodLimits:
    """Flood limits for the ``tg`` fixture; tests about flood control override this."""
    return FloodLimits.off()


@pytest.fixture
async def tg(clock: FakeClock, limits: FloodLimits) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, bot_username=USERNAME, flood=limits, clock=clock.monotonic) as t:
        yield t


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg) as b:
        yield b


@pytest.fixture
def running_app(tg: FakeTelegram) -> AppFactory:
    """``async with running_app(*handlers) as app:`` — an Application polling the fake.

    As api-facts C: ``async with app`` → ``app.start()`` → ``updater.start_polling()``; on exit
    ``updater.stop()`` (which confirms the offset with one last getUpdates) → ``app.stop()``.
    """

    @asynccontextmanager
    async def run(
        *handlers: Any, **polling: Any
    ) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{tg.base_url}/bot")
            .base_file_url(f"{tg.base_url}/file/bot")
            .request(request())
            .get_updates_request(request())
            .build()
        )
        for handler in handlers:
            app.add_handler(handler)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(**{"poll_interval": 0.0, "timeout": 10, **polling})
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()

    return run
