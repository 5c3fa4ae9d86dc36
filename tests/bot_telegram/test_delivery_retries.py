"""While Telegram is down the final answer waits (backoff with jitter, on the bot's clock) and
arrives once, complete and in order, when Telegram is back; past the retry bound it is given up
with one ERROR line and a counter, and the next message is answered as usual.

Time runs 200x faster here (both the bot and the fake's flood control): the default bound of an
hour would take 18 s, a minute's outage takes 0.3 s."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from core.app import Core
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram
from tests.support.clock import ScaledClock

from .conftest import TOKEN, BotFactory

PARAGRAPH = "Line of the long answer, number {i:03d}, with some words to fill it up nicely."
LONG = "\n\n".join(PARAGRAPH.format(i=i) for i in range(70))  # about 5,600 characters: 2 parts


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=200)


async def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (bounded) until ``predicate()`` holds, for what the fake can't signal."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - log records and the LLM fake have no event
            await asyncio.sleep(0.01)


def failures(core: Core) -> float:
    value = core.metrics.registry.get_sample_value(
        "chatrelay_deliveries_failed_total", {"platform": "telegram"}
    )
    return value or 0.0


def gave_up(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The bot's own ERROR lines (PTB logs its failed polls too)."""
    return [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "chatrelay.telegram"
    ]


async def test_an_answer_written_while_telegram_is_unreachable_arrives_whole_when_it_is_back(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    clock: ScaledClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The default bound (an hour). Connections are refused for two minutes: nothing gets
    through, so every part is safe to send again."""
    chat = tg.private_chat(3001, "Ann")
    openrouter.enqueue(Answer(content=LONG, first_token_delay=0.2))
    async with running_bot() as core:
        await tg.user_says(chat, None, "tell me a lot")
        await eventually(lambda: openrouter.chat_requests)
        await tg.refuse_connections()
        await clock.sleep(120)
        await tg.accept_connections()
        sent = await tg.wait_for_sent(chat, 2)
        await clock.sleep(5)  # nothing more follows
    assert len(tg.sent[chat]) == 2
    assert "\n\n".join(m.text for m in sent) == LONG
    assert [m.message_id for m in sent] == sorted(m.message_id for m in sent)
    assert failures(core) == 0
    assert not gave_up(caplog)


async def test_a_streamed_message_whose_edits_drop_their_connection_gets_its_final_text(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory, clock: ScaledClock
) -> None:
    """In a group the answer is one message edited as it grows. Edits whose connection drops
    mid-request (they may or may not have been applied) are retried: an edit to the same text
    twice is still one message."""
    group = tg.group(-1003002, "Team", bot_is_admin=True)
    bea = tg.user(3002, "Bea")
    chunks = [f"word{i} " for i in range(20)]
    openrouter.enqueue(Answer(content=chunks, chunk_delay=0.05))
    async with running_bot():
        await tg.user_says(group, bea, "@chatrelay_bot count for me")
        await tg.wait_for_sent(group, 1)  # the streamed message exists
        tg.break_method("editMessageText", disconnect=True)
        await clock.sleep(300)
        tg.repair("editMessageText")
        await tg.wait_for(lambda: tg.sent[group][0].text == "".join(chunks).strip())
    assert len(tg.sent[group]) == 1
    assert any(c.method == "editMessageText" and c.status == 0 for c in tg.calls)


async def test_502s_past_the_bound_give_up_with_one_error_line_and_the_next_message_works(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = tg.private_chat(3003, "Cy")
    tg.break_method("sendMessage", 502, "Bad Gateway")
    async with running_bot(telegram_delivery_retry_seconds=60) as core:
        await tg.user_says(chat, None, "secret words")
        await eventually(lambda: gave_up(caplog))
        attempts = [c for c in tg.calls if c.method == "sendMessage"]
        tg.repair("sendMessage")
        await tg.user_says(chat, None, "again")
        [sent] = await tg.wait_for_sent(chat, 1)
    assert sent.text == "Echo: again"
    assert failures(core) == 1
    [line] = gave_up(caplog)
    assert line.chat == 3003  # type: ignore[attr-defined]
    assert 60 <= line.tried_seconds < 75  # type: ignore[attr-defined]
    assert "Bad Gateway" in line.error  # type: ignore[attr-defined]
    logged = line.getMessage() + repr(line.__dict__)
    assert "secret words" not in logged
    assert TOKEN not in logged
    assert 4 <= len(attempts) <= 9, "backoff: a few attempts a minute, not a flood"


async def test_a_new_message_whose_connection_dropped_mid_request_is_sent_again(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    clock: ScaledClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The request went out and no answer came. The usual cause is a kept-alive connection
    closed just as the request was sent (not carried out, as here): the answer is sent again
    rather than lost."""
    chat = tg.private_chat(3004, "Di")
    tg.break_method("sendMessage", disconnect=True)
    async with running_bot() as core:
        await tg.user_says(chat, None, "hello")
        await eventually(lambda: len([c for c in tg.calls if c.method == "sendMessage"]) >= 2)
        tg.repair("sendMessage")
        [sent] = await tg.wait_for_sent(chat, 1)
        await clock.sleep(5)  # nothing more follows
    assert sent.text == "Echo: hello"
    assert len(tg.sent[chat]) == 1
    assert failures(core) == 0
    assert not gave_up(caplog)


async def test_with_placeholders_a_dropped_placeholder_is_sent_again_and_filled_in(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    clock: ScaledClock,
) -> None:
    chat = tg.private_chat(3005, "Ed")
    tg.break_method("sendMessage", disconnect=True)
    async with running_bot(telegram_placeholders=True):
        await tg.user_says(chat, None, "hello there")
        await eventually(lambda: len([c for c in tg.calls if c.method == "sendMessage"]) >= 2)
        tg.repair("sendMessage")
        [sent] = await tg.wait_for_sent(chat, 1)
        await clock.sleep(5)
    assert sent.history == ["Echo: …", "Echo: hello there"]
    assert len(tg.sent[chat]) == 1


async def test_a_bot_started_while_telegram_is_unreachable_starts_once_it_is_back(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = tg.private_chat(3101, "Ann")
    await tg.refuse_connections()

    async def back_after_a_failed_try() -> None:
        await eventually(lambda: "cannot reach the Telegram Bot API" in caplog.text)
        await tg.accept_connections()

    coming_back = asyncio.create_task(back_after_a_failed_try())
    async with running_bot():
        await coming_back
        await tg.user_says(chat, None, "are you there?")
        [sent] = await tg.wait_for_sent(chat, 1)
    assert sent.text == "Echo: are you there?"
