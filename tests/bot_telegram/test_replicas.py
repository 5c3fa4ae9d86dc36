"""Several replicas of the Telegram bot on one PostgreSQL database (in one test process, each
with its own core, inbox and lease owner, as separate processes have):

- long polling: exactly one replica polls (Telegram refuses two getUpdates at once with 409),
  all of them answer, and when the polling one stops, another takes polling over;
- webhook: behind a load balancer that sends each update to a random replica, every message
  is answered once and in order per chat.

The end-to-end test with real processes, one of them killed, is tests/e2e/test_replicas.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import Chat, FakeTelegram
from tests.support.balancer import Balancer
from tests.support.databases import require_postgres, temporary_database

from .conftest import BotFactory

pytestmark = pytest.mark.postgres
# A paid model: the free ones' 20 requests a minute would add "queued" notices to the answers.
PAID: dict[str, object] = {"openrouter_models": "openai/gpt-5"}


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    """Overrides conftest's SQLite file: replicas share a PostgreSQL database."""
    require_postgres()
    async with temporary_database("postgres", tmp_path, migrated=True) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll_conflicts(tg: FakeTelegram) -> int:
    return sum(1 for call in tg.calls if call.method == "getUpdates" and call.status == 409)


async def converse(tg: FakeTelegram, chats: list[Chat], words: list[str]) -> None:
    """Each chat says each word in turn, waiting for the answer before the next."""

    async def one(chat: Chat) -> None:
        before = len(tg.sent[chat.id])
        for number, word in enumerate(words, start=1):
            await tg.user_says(chat, None, f"{word} {chat.id}")
            await tg.wait_for_sent(chat, before + number, timeout=30)

    await asyncio.gather(*(one(chat) for chat in chats))


def answers(tg: FakeTelegram, chat: Chat) -> list[str]:
    return [message.text for message in tg.sent[chat.id]]


async def test_one_replica_polls_all_answer_and_polling_passes_on_when_it_stops(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    openrouter.first_token_delay = 0.2
    chats = [tg.private_chat(7000 + n, f"U{n}") for n in range(12)]
    async with contextlib.AsyncExitStack() as replicas:
        first = running_bot(core=PAID)
        await first.__aenter__()
        await replicas.enter_async_context(running_bot(core=PAID))
        await converse(tg, chats, ["one", "two"])
        assert poll_conflicts(tg) == 0, "two replicas polled at once"
        await first.__aexit__(None, None, None)  # a deploy stops the polling replica
        await converse(tg, chats, ["three"])
        assert poll_conflicts(tg) == 0
    for chat in chats:
        assert answers(tg, chat) == [
            f"Echo: one {chat.id}",
            f"Echo: two {chat.id}",
            f"Echo: three {chat.id}",
        ]


async def test_webhook_replicas_behind_a_balancer_answer_each_message_once_in_order(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    """Each update goes to a random replica; a chat's messages come in quick succession, so
    the next one often reaches one replica while another is still answering the last."""
    openrouter.first_token_delay = 0.3
    ports = [free_port() for _ in range(3)]
    async with Balancer([f"http://127.0.0.1:{port}" for port in ports], seed=7) as balancer:
        url = f"{balancer.url}/telegram/hook"
        chats = [tg.private_chat(8000 + n, f"W{n}") for n in range(15)]
        async with contextlib.AsyncExitStack() as replicas:
            for port in ports:
                await replicas.enter_async_context(
                    running_bot(
                        core=PAID,
                        telegram_webhook_url=url,
                        telegram_webhook_listen="127.0.0.1",
                        telegram_webhook_port=port,
                        telegram_merge_window=0,
                    )
                )
            for word in ("alpha", "beta", "gamma"):  # written before any answer arrives
                for chat in chats:
                    await tg.user_says(chat, None, f"{word} {chat.id}")
            for chat in chats:
                await tg.wait_for_sent(chat, 3, timeout=30)
            await asyncio.sleep(0)
        assert len([n for n in balancer.forwarded.values() if n]) == 3, balancer.forwarded
    for chat in chats:
        assert answers(tg, chat) == [
            f"Echo: alpha {chat.id}",
            f"Echo: beta {chat.id}",
            f"Echo: gamma {chat.id}",
        ], "each message answered once, in the order written"
