"""`chatrelay run` with Telegram and Discord configured: one process serves both."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

TELEGRAM_TOKEN = "555:BOTH-telegram-token"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TELEGRAM_TOKEN, bot_username="both_bot") as server:
        yield server


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_one_process_answers_on_telegram_and_discord(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        "DISCORD_BOT_TOKEN": dc.token,
        "DISCORD_API_BASE_URL": f"{dc.base_url}/api/v10",
        "DISCORD_GATEWAY_URL": dc.gateway_url,
    }
    chat = tg.private_chat(88, "Ann")
    alice = dc.user("alice")
    dm = dc.dm_channel(alice)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        await tg.user_says(chat, None, "hello telegram")
        await tg.wait_for_sent(chat, 1, timeout=30)
        await dc.wait_for(lambda: dc.commands.get(None), timeout=30)  # ready: commands synced
        await dc.user_says(dm, alice, "hello discord")
        await dc.wait_for_sent(dm, 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = err.decode()
    assert process.returncode == 0, log
    assert tg.sent[chat][0].text == "Echo: hello telegram"
    assert dc.sent[dm.id][0].content == "Echo: hello discord"
    assert TELEGRAM_TOKEN not in log
    assert dc.token not in log
