"""How updates reach the bot (polling, webhook) and how answers survive Telegram's refusals."""

from __future__ import annotations

import socket

import httpx
import pytest

from bots.telegram.settings import TelegramSettings
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

from .conftest import TOKEN, BotFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_answers_and_rejects_posts_without_the_secret(
    tg: FakeTelegram, running_bot: BotFactory
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    chat = tg.private_chat(2001, "Ann")
    async with running_bot(
        telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1", telegram_webhook_port=port
    ):
        assert tg.webhook_url == url
        expected = TelegramSettings(_env_file=None, telegram_bot_token=TOKEN).webhook_secret  # type: ignore[call-arg]
        assert tg.webhook_secret == expected  # derived from the token: every copy agrees
        await tg.user_says(chat, None, "via webhook")
        [sent] = await tg.wait_for_sent(chat)
        forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "text": "x"}}
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=forged)
            wrong = await client.post(
                url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
    assert sent.text == "Echo: via webhook"
    assert refused.status_code == 403
    assert wrong.status_code == 403
    assert len(tg.sent[chat]) == 1


async def test_a_configured_webhook_secret_is_used(
    tg: FakeTelegram, running_bot: BotFactory
) -> None:
    port = free_port()
    async with running_bot(
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="my-Secret_1",
    ):
        assert tg.webhook_secret == "my-Secret_1"


async def test_an_answer_in_flight_finishes_at_shutdown_and_nothing_is_answered_twice(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2002, "Bo")
    openrouter.enqueue(Answer(content="slow but sure", first_token_delay=0.5))
    async with running_bot():
        await tg.user_says(chat, None, "take your time")
        await tg.wait_for(lambda: len(openrouter.chat_requests) == 1)
    # the block ended as SIGTERM would: the answer still arrived, and the update is confirmed
    assert [m.text for m in tg.sent[chat]] == ["slow but sure"]
    assert tg.pending_updates == 0
    async with running_bot():
        await tg.user_says(chat, None, "again")
        await tg.wait_for_sent(chat, 2)
    assert [m.text for m in tg.sent[chat]] == ["slow but sure", "Echo: again"]


@pytest.mark.parametrize(
    ("placeholders", "method"),
    [(True, "editMessageText"), (False, "sendMessage")],
    ids=["default-placeholder-edited", "no-placeholders"],
)
async def test_formatting_telegram_rejects_is_sent_as_plain_text(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    placeholders: bool,
    method: str,
) -> None:
    """The formatted text goes out in the edit that fills the placeholder in (by default), or
    in the sendMessage itself without placeholders; either way a rejection is sent plain."""
    chat = tg.private_chat(2003, "Cy")
    openrouter.enqueue(Answer(content="**bold** and `code`"))
    tg.fail(method, 400, "Bad Request: can't parse entities: unsupported entity")
    async with running_bot(telegram_placeholders=placeholders):
        await tg.user_says(chat, None, "format")
        await tg.wait_for(lambda: tg.sent[chat] and tg.sent[chat][0].text == "bold and code")
    [sent] = tg.sent[chat]
    assert sent.text == "bold and code"
    assert sent.entities == []


async def test_without_drafts_the_answer_streams_by_editing_one_message(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2004, "Di")
    openrouter.enqueue(Answer(content=["one ", "two ", "three ", "four"], chunk_delay=0.15))
    tg.fail("sendMessageDraft", 400, "Bad Request: method not found", times=10)
    async with running_bot(telegram_private_edit_interval=0.1):
        await tg.user_says(chat, None, "count")
        await tg.wait_for(lambda: tg.sent[chat] and tg.sent[chat][0].text == "one two three four")
    [message] = tg.sent[chat]
    assert message.edits, "the message grew by edits"
    assert message.history[0] != message.text


async def test_a_flood_pause_skips_drafts_but_the_final_answer_arrives(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2005, "Ed")
    openrouter.enqueue(Answer(content=[f"part {i}. " for i in range(12)], chunk_delay=0.05))
    tg.fail("sendMessage", retry_after=3, times=2)
    async with running_bot(telegram_drafts=False, telegram_private_edit_interval=0.1):
        await tg.user_says(chat, None, "go")
        await tg.wait_for(lambda: tg.sent[chat] and "part 11." in tg.sent[chat][-1].text)
    text = tg.sent[chat][-1].text
    assert text == "".join(f"part {i}. " for i in range(12)).strip()


async def test_when_the_streamed_message_cannot_be_edited_the_answer_is_sent_anew(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2006, "Fa")
    openrouter.enqueue(Answer(content=["alpha ", "beta ", "gamma"], chunk_delay=0.2))
    tg.fail("editMessageText", 400, "Bad Request: message to edit not found", times=50)
    async with running_bot(telegram_drafts=False, telegram_private_edit_interval=0.1):
        await tg.user_says(chat, None, "go")
        await tg.wait_for(lambda: any(m.text == "alpha beta gamma" for m in tg.sent[chat]))
    assert tg.sent[chat][-1].text == "alpha beta gamma"


async def test_a_failing_connection_to_telegram_is_retried_for_the_final_answer(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2007, "Gi")
    tg.fail("sendMessage", 502, "Bad Gateway", times=2)
    async with running_bot():
        await tg.user_says(chat, None, "still there?")
        [sent] = await tg.wait_for_sent(chat)
    assert sent.text == "Echo: still there?"


async def test_formatting_rejected_in_the_edit_that_fills_a_placeholder_is_sent_plain(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2013, "Cy")
    openrouter.enqueue(Answer(content="**bold** and `code`"))
    tg.fail("editMessageText", 400, "Bad Request: can't parse entities: unsupported entity")
    async with running_bot(telegram_placeholders=True):
        await tg.user_says(chat, None, "format")
        await tg.wait_for(lambda: tg.sent[chat] and tg.sent[chat][0].text == "bold and code")
    [sent] = tg.sent[chat]
    assert sent.entities == []
