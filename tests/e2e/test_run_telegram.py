"""`chatrelay run` as a deployer runs it: a real process polling a fake Telegram, stopped by
SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

TOKEN = "987654:E2E-secret-token"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, bot_username="relay_bot") as server:
        yield server


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


async def test_run_answers_on_telegram_and_stops_cleanly_on_sigterm(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, tg: FakeTelegram
) -> None:
    env = {**env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": f"{tg.base_url}/bot"}
    fake.enqueue(Answer(content="Hello from **the model**", first_token_delay=0.3))
    chat = tg.private_chat(77, "Ann")
    process = await start(env, tmp_path)
    try:
        await tg.user_says(chat, None, "hi")
        await tg.wait_for(lambda: len(fake.chat_requests) == 1, timeout=30)
        process.send_signal(signal.SIGTERM)  # while the answer is still being written
        async with asyncio.timeout(20):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = err.decode()
    assert process.returncode == 0, log
    assert [m.text for m in tg.sent[chat]] == ["Hello from the model"]
    assert tg.pending_updates == 0  # the polling offset was confirmed before exiting
    assert TOKEN not in log
    assert "E2E-secret-token" not in log


async def test_run_without_any_platform_token_says_what_to_set(
    env: dict[str, str], tmp_path: Path
) -> None:
    process = await start(env, tmp_path)
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in err.decode()


async def test_run_with_a_refused_token_names_it(
    env: dict[str, str], tmp_path: Path, tg: FakeTelegram
) -> None:
    env = {**env, "TELEGRAM_BOT_TOKEN": "111:wrong", "TELEGRAM_BASE_URL": f"{tg.base_url}/bot"}
    process = await start(env, tmp_path)
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in err.decode()
    assert "111:wrong" not in err.decode()


async def test_health_readiness_and_metrics_while_running(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, tg: FakeTelegram
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(port),
    }
    chat = tg.private_chat(78, "Bo")
    process = await start(env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await tg.user_says(chat, None, "count me")
        await tg.wait_for_sent(chat, 1, timeout=30)
        async with httpx.AsyncClient() as client:
            alive = await client.get(f"{base}/healthz")
            ready = await client.get(f"{base}/readyz")
            metrics = await client.get(f"{base}/metrics")
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"database": "ok", "telegram": "connected"}}
    text = metrics.text
    assert 'chatrelay_messages_received_total{platform="telegram"} 1.0' in text
    assert 'chatrelay_replies_sent_total{platform="telegram"} 1.0' in text
    assert 'chatrelay_llm_tokens_total{model="tencent/hy3-preview:free",type="prompt"}' in text
    assert "chatrelay_llm_latency_seconds_bucket" in text
