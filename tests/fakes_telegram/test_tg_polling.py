"""getUpdates: offsets, long polling, conflicts, and an Application that answers over polling."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Conflict
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from tests.fakes.telegram import FakeTelegram

from .helpers import AppFactory, make_bot


async def test_updates_come_in_order_and_confirmed_ones_do_not_return(
    tg: FakeTelegram, bot: Bot
) -> None:
    chat = tg.private_chat(42, "Alice")
    for text in ("one", "two", "three"):
        await tg.user_says(chat, chat.user, text)
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["one", "two", "three"]
    ids = [u.update_id for u in updates]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert [u.message.message_id for u in updates if u.message] == [1, 2, 3]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=ids[1] + 1)  # confirms "one" and "two"
    assert [u.update_id for u in rest] == [ids[2]]
    assert tg.pending_updates == 1
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    assert tg.pending_updates == 0
    async with make_bot(tg) as restarted:  # a restarted client gets nothing old again
        assert await restarted.get_updates() == ()


async def test_limit_and_negative_offset(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    for n in range(5):
        await tg.user_says(chat, chat.user, f"m{n}")
    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two if u.message] == ["m0", "m1"]
    last_two = await bot.get_updates(offset=-2)  # forgets everything older
    assert [u.message.text for u in last_two if u.message] == ["m3", "m4"]
    assert tg.pending_updates == 2


async def test_a_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for(lambda: tg.polling)
    assert not poll.done()
    await tg.user_says(chat, chat.user, "wake up")
    updates = await asyncio.wait_for(poll, 5)  # far less than the 30 s poll timeout
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_overlapping_long_polls_conflict(tg: FakeTelegram) -> None:
    async with make_bot(tg) as first, make_bot(tg) as second:
        poll = asyncio.create_task(first.get_updates(timeout=30))
        await tg.wait_for(lambda: tg.polling)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict) as caught:
            await asyncio.wait_for(poll, 5)
    assert caught.value.message == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
        "is running"
    )
    assert [(c.method, c.status) for c in tg.calls[-2:]] == [
        ("getUpdates", 200),
        ("getUpdates", 409),
    ]


async def test_allowed_updates_persist(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    await tg.user_says(chat, chat.user, "hello")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(42, "pick", reply_markup=keyboard)
    await tg.user_presses(chat, chat.user, sent.message_id, "yes")
    only_callbacks = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in only_callbacks if u.callback_query] == ["yes"]
    assert len(only_callbacks) == 1
    await tg.user_says(chat, chat.user, "ignored")
    assert await bot.get_updates(offset=only_callbacks[0].update_id + 1) == ()


async def test_an_application_answers_over_long_polling(
    tg: FakeTelegram, running_app: AppFactory
) -> None:
    chat = tg.private_chat(42, "Alice")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = f"you said: {update.effective_message.text}"
        await update.effective_message.reply_text(text, do_quote=True)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"hi {context.args}")

    handlers = (
        CommandHandler("start", start),
        MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
    )
    async with running_app(*handlers):
        await tg.user_says(chat, chat.user, "hello")
        await tg.user_says(chat, chat.user, "/start now")
        await tg.user_says(chat, chat.user, "/start@chatrelay_bot x")
        replies = await tg.wait_for_sent(chat, 3)
    assert [m.text for m in replies] == ["you said: hello", "hi ['now']", "hi ['x']"]
    assert replies[0].reply_to == 1
    calls = [c.method for c in tg.calls]
    assert calls[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert tg.pending_updates == 0  # stopping the updater confirmed everything

    # a new Application (a restart) gets only what is new
    async with running_app(MessageHandler(filters.TEXT, echo)):
        await tg.user_says(chat, chat.user, "after restart")
        replies = await tg.wait_for_sent(chat, 4)
    assert [m.text for m in replies[3:]] == ["you said: after restart"]


async def test_drop_pending_updates_on_start(tg: FakeTelegram, running_app: AppFactory) -> None:
    chat = tg.private_chat(42, "Alice")
    await tg.user_says(chat, chat.user, "old news")
    seen: list[str] = []

    async def note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(update.effective_message.text or "")

    async with running_app(MessageHandler(filters.TEXT, note), drop_pending_updates=True):
        await tg.user_says(chat, chat.user, "fresh")
        await tg.wait_for(lambda: seen)
    assert seen == ["fresh"]
