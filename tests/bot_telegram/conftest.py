"""The Telegram adapter wired as in production: the real python-telegram-bot against the fake Bot
API, the real core against the fake OpenRouter, a SQLite file. Time runs 20x faster for both
the bot and the fake's flood control, so a 'retry after 5' pause takes a quarter of a second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bots.telegram.app import TelegramBot
from bots.telegram.settings import TelegramSettings
from core.app import Core, build_core
from core.settings import Settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram, FloodLimits
from tests.support.clock import ScaledClock

API_KEY = "sk-or-v1-test"
TOKEN = "123456:TEST-token"
USERNAME = "chatrelay_bot"

BotFactory = Callable[..., AbstractAsyncContextManager[Core]]


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``chatrelay run`` does: PTB 23's RetryAfter (a timedelta), without its warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=20)


@pytest.fixture
def limits() -> FloodLimits:
    """Telegram's flood limits are on unless a test says otherwise."""
    return FloodLimits()


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def tg(clock: ScaledClock, limits: FloodLimits) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(
        TOKEN, bot_username=USERNAME, flood=limits, clock=clock.monotonic
    ) as server:
        yield server


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"


@pytest.fixture
def running_bot(
    tg: FakeTelegram, openrouter: FakeOpenRouter, clock: ScaledClock, database: str
) -> BotFactory:
    """``async with running_bot(**telegram_overrides, core=dict(...)) as core:`` — the bot is
    polling the fake until the block ends (then it stops as on SIGTERM)."""

    @asynccontextmanager
    async def run(core: dict[str, object] | None = None, **telegram: object) -> AsyncIterator[Core]:
        values: dict[str, object] = {
            "openrouter_api_key": API_KEY,
            "openrouter_base_url": openrouter.base_url,
            "database_url": database,
            "openrouter_first_token_timeout": 5.0,
            "openrouter_idle_timeout": 5.0,
            "openrouter_total_timeout": 30.0,
            **(core or {}),
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        tg_values: dict[str, object] = {
            "telegram_bot_token": TOKEN,
            "telegram_base_url": f"{tg.base_url}/bot",
            "telegram_merge_window": 0.5,
            **telegram,
        }
        tg_settings = TelegramSettings(_env_file=None, **tg_values)  # type: ignore[call-arg]
        async with build_core(settings, clock=clock) as built:
            bot = TelegramBot(tg_settings, built, clock)
            await bot.start()
            try:
                yield built
            finally:
                await bot.stop()

    return run
