"""Messages survive the bot: an answer written before a stop is delivered by the next start
without asking the model again, and a group's streamed message is finished in place, never
posted twice."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

from .conftest import USERNAME, BotFactory

QUICK_STOP = {"telegram_shutdown_grace": 0.05}  # a deploy that cuts everything off


async def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (bounded) until ``predicate()`` holds, for what the fake can't signal."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - log records and the LLM fake have no event
            await asyncio.sleep(0.01)


def retrying(caplog: pytest.LogCaptureFixture) -> bool:
    return any("sending the answer failed" in r.getMessage() for r in caplog.records)


async def test_an_answer_written_while_telegram_was_down_is_delivered_after_a_restart(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    chat = tg.private_chat(5001, "Ann")
    openrouter.enqueue(Answer(content="Written before the restart", first_token_delay=0.2))
    async with running_bot(**QUICK_STOP):
        await tg.user_says(chat, None, "hello")
        await eventually(lambda: openrouter.chat_requests)
        await tg.refuse_connections()  # the answer is written but can't go out
        await eventually(lambda: retrying(caplog))
    await tg.accept_connections()
    async with running_bot():
        [sent] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "and now?")
        await tg.wait_for_sent(chat, 2)
    assert sent.text == "Written before the restart"
    assert len(openrouter.chat_requests) == 2, "the first answer was not asked for again"
    assert tg.sent[chat][1].text == "Echo: and now?"


async def test_a_groups_streamed_message_cut_off_by_a_restart_is_finished_in_place(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1005001, "Friends", bot_is_admin=True)
    ann = tg.user(51, "Ann")
    words = [f"word{i} " for i in range(40)]
    openrouter.enqueue(Answer(content=words, chunk_delay=0.1))  # cut off half way
    async with running_bot(telegram_group_edit_interval=0.5, **QUICK_STOP):
        await tg.user_says(group, ann, f"@{USERNAME} count to forty")
        await eventually(lambda: tg.sent[group] and "word5" in tg.sent[group][0].text)
    cut = tg.sent[group][0].text
    async with running_bot():
        await tg.wait_for(lambda: tg.sent[group][0].text.startswith("Echo:"))
        await tg.user_says(group, ann, f"@{USERNAME} thanks")
        await tg.wait_for(lambda: len(tg.sent[group]) == 2 and not tg.sent[group][1].placeholder)
    first, second = tg.sent[group]
    assert "word39" not in cut
    assert first.text == "Echo: Ann: count to forty", "answered again, into the same message"
    assert second.text == "Echo: Ann: thanks"
    assert len(openrouter.chat_requests) == 3


async def test_a_webhook_update_the_database_could_not_store_is_refused_and_comes_again(
    tg: FakeTelegram, running_bot: BotFactory, tmp_path: Path
) -> None:
    """The webhook answers 200 only once the update is stored: while the database is locked
    (longer than its busy timeout) Telegram gets a 500 and delivers the update again."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    chat = tg.private_chat(5003, "Cy")
    async with running_bot(
        telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port
    ):
        locked, release = threading.Event(), threading.Event()
        holder = asyncio.create_task(
            asyncio.to_thread(hold_write_lock, tmp_path / "chat.db", locked, release)
        )
        await asyncio.to_thread(locked.wait)
        await tg.user_says(chat, None, "stored at last")
        await tg.wait_for(lambda: any(not d.delivered for d in tg.deliveries), timeout=15)
        release.set()
        await holder
        [sent] = await tg.wait_for_sent(chat, 1, timeout=15)
    statuses = [d.status for d in tg.deliveries]
    assert statuses[0] == 500
    assert statuses[-1] == 200
    assert sent.text == "Echo: stored at last"
    assert len(tg.sent[chat]) == 1


def hold_write_lock(path: Path, locked: threading.Event, release: threading.Event) -> None:
    """Another writer holds the SQLite database until ``release`` (set by the test)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(30)
        connection.execute("COMMIT")
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_with_placeholders_each_new_answer_message_is_a_placeholder_edited_in(
    tg: FakeTelegram, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(5004, "Di")
    async with running_bot():  # the default: placeholders
        await tg.user_says(chat, None, "with a placeholder")
        [with_one] = await tg.wait_for_sent(chat, 1)
    other = tg.private_chat(5005, "Ed")
    async with running_bot(telegram_placeholders=False):
        await tg.user_says(other, None, "without")
        [without] = await tg.wait_for_sent(other, 1)
    assert with_one.history == ["Echo: with a …", "Echo: with a placeholder"]
    assert without.history == ["Echo: without"]
