"""`chatrelay run` at DEBUG, with failures everywhere: every line it writes is searched for the
OpenRouter key, the bot tokens and the webhook secret, plain or encoded, while the failures are
still there to read."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bots.telegram.settings import TelegramSettings
from tests.e2e.conftest import API_KEY
from tests.e2e.test_console_chat import chatrelay
from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter, Hang
from tests.fakes.telegram import FakeTelegram

TOKEN = "424242:LOG-secret_token-xyz"
MODEL = "tencent/hy3-preview:free"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, bot_username="log_bot") as server:
        yield server


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def derived_webhook_secret() -> str:
    settings = TelegramSettings(_env_file=None, telegram_bot_token=TOKEN)  # type: ignore[call-arg]
    return settings.webhook_secret


def assert_no_secret(output: str, *secrets: str) -> None:
    for secret in secrets:
        encoded = quote(secret, safe="")
        for spelling in {
            secret,
            encoded,
            encoded.replace("%3A", "%3a"),
            quote(encoded, safe=""),
            quote_plus(secret),
        }:
            assert spelling not in output, f"a secret ({len(secret)} chars) is in the output"
    assert "secret_token-xyz" not in output  # the token's secret half, even on its own


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd,
    )  # fmt: skip


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, then everything the process wrote (stdout and stderr)."""
    try:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return out.decode() + err.decode()


def field(key: str, value: str, fmt: str) -> str:
    """How a structured log field looks in the given format."""
    return f'"{key}": "{value}"' if fmt == "json" else f"{key}={value}"


def assert_json_lines(output: str) -> None:
    for line in output.splitlines():
        if line.strip():
            assert isinstance(json.loads(line), dict), line


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_failures_are_logged_at_debug_without_any_secret(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, tg: FakeTelegram, fmt: str
) -> None:
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": fmt,
        "OPENROUTER_MODELS": MODEL,
        "OPENROUTER_MAX_ATTEMPTS": "1",
        "OPENROUTER_FIRST_TOKEN_TIMEOUT": "1",
    }
    fake.enqueue(
        ErrorReply.unauthorized(),
        ErrorReply(500, "Internal Server Error"),
        Hang(seconds=30),  # no first token within OPENROUTER_FIRST_TOKEN_TIMEOUT
        Answer(content="finally fine"),
    )
    tg.fail("getUpdates", 502, "Bad Gateway")  # the first poll fails; polling goes on
    chat = tg.private_chat(61, "Ann")
    process = await start(env, tmp_path)
    try:
        for count, text in enumerate(["one", "two", "three"], start=1):
            await tg.user_says(chat, None, text)
            await tg.wait_for_sent(chat, count, timeout=30)
        tg.fail("sendMessage", 502, "Bad Gateway")  # the final answer is sent on the retry
        await tg.user_says(chat, None, "four")
        await tg.wait_for_sent(chat, 4, timeout=30)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    replies = [message.text for message in tg.sent[chat]]
    assert "API key was rejected" in replies[0]
    assert "try again" in replies[1]
    assert "took too long" in replies[2]
    assert replies[3] == "finally fine"
    # The failures are there to read...
    for kind in ("auth", "unavailable", "timeout"):
        assert field("error_kind", kind, fmt) in output
    assert "sending the answer failed; retrying" in output
    assert "Bad Gateway" in output  # the failed poll and the failed send
    assert "telegram long polling" in output
    # ...and python-telegram-bot's DEBUG lines that carry the token are masked.
    assert "Set Bot API URL: http://127.0.0.1" in output
    assert "/bot<redacted>" in output
    assert_no_secret(output, TOKEN, API_KEY)
    if fmt == "json":
        assert_json_lines(output)


async def test_webhook_secret_and_both_tokens_stay_out_of_the_logs(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, tg: FakeTelegram, dc: FakeDiscord
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
        "TELEGRAM_WEBHOOK_PORT": str(port),
        "DISCORD_BOT_TOKEN": dc.token,
        "DISCORD_API_BASE_URL": f"{dc.base_url}/api/v10",
        "DISCORD_GATEWAY_URL": dc.gateway_url,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "OPENROUTER_MAX_ATTEMPTS": "1",
    }
    fake.enqueue(ErrorReply.bad_gateway())  # Telegram's message fails, Discord's is answered
    chat = tg.private_chat(62, "Bo")
    alice = dc.user("alice")
    dm = dc.dm_channel(alice)
    process = await start(env, tmp_path)
    try:
        await tg.wait_for(lambda: tg.webhook_url, timeout=30)
        await tg.user_says(chat, None, "via webhook")
        await tg.wait_for_sent(chat, 1, timeout=30)
        await dc.wait_for(lambda: dc.commands.get(None), timeout=30)  # ready: commands synced
        await dc.user_says(dm, alice, "hello discord")
        await dc.wait_for_sent(dm, 1, timeout=30)
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert tg.webhook_secret == derived_webhook_secret()
    assert "telegram webhook listening" in output
    assert "discord connected" in output
    assert field("error_kind", "unavailable", "json") in output
    assert dc.sent[dm.id][0].content == "Echo: hello discord"
    # python-telegram-bot logs setWebhook's parameters at DEBUG: the secret is masked there.
    assert "'secret_token': '<redacted>'" in output
    assert_no_secret(output, TOKEN, derived_webhook_secret(), dc.token, API_KEY)
    assert_json_lines(output)


async def test_an_error_whose_message_is_a_url_with_the_token_is_printed_masked(
    env: dict[str, str], tmp_path: Path
) -> None:
    """aiohttp refuses a URL with an impossible port, and its error is that URL: token and all.
    The bot keeps trying to reach Telegram (saying so) until it is stopped."""
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": "http://127.0.0.1:99999/bot",
        "LOG_LEVEL": "DEBUG",
    }
    process = await start(env, tmp_path)
    assert process.stderr is not None
    lines: list[bytes] = []
    async with asyncio.timeout(30):
        while b"cannot reach the Telegram Bot API" not in (line := await process.stderr.readline()):
            assert line, b"".join(lines).decode()
            lines.append(line)
        lines.append(line)
        process.send_signal(signal.SIGTERM)
        out, err = await process.communicate()
    output = out.decode() + b"".join(lines).decode() + err.decode()
    assert process.returncode == 0, output
    assert "http://127.0.0.1:99999/bot<redacted>/" in output
    assert_no_secret(output, TOKEN, API_KEY)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_chat_masks_every_secret_even_one_an_upstream_error_echoes(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter, fmt: str
) -> None:
    """`chatrelay chat` masks from its first line too, whatever it uses: here OpenRouter's error
    message quotes the key back, and the bot tokens are set in the environment."""
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DISCORD_BOT_TOKEN": "MTA5ODc2NTQzMjEw.discord-e2e-token",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": fmt,
        "OPENROUTER_MAX_ATTEMPTS": "1",
    }
    fake.enqueue(
        ErrorReply(401, f"Invalid key {API_KEY} for /bot{TOKEN}"),
        ErrorReply(500, f"upstream {quote(TOKEN, safe='')} failed"),
    )
    run = await chatrelay(["chat", "--verbose"], env, tmp_path, b"one\ntwo\nthree\n")
    output = run.out + run.err
    assert run.code == 0, output
    assert run.out.rstrip().endswith("Echo: three")
    assert field("error_kind", "auth", fmt) in run.err
    assert field("error_kind", "unavailable", fmt) in run.err
    assert "Invalid key <redacted> for /bot<redacted>" in run.err
    assert_no_secret(output, TOKEN, API_KEY, derived_webhook_secret(), env["DISCORD_BOT_TOKEN"])
    if fmt == "json":
        assert_json_lines(run.err)


async def test_a_secret_too_short_to_mask_is_named_at_start(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    env = {**env, "TELEGRAM_WEBHOOK_SECRET": "Ab3_x"}
    run = await chatrelay(["chat"], env, tmp_path, b"hi\n")
    assert run.code == 0, run.err
    assert "TELEGRAM_WEBHOOK_SECRET is too short to be masked in the logs" in run.err
    assert "Ab3_x" not in run.err
    assert run.out.splitlines() == ["Echo: hi"]
