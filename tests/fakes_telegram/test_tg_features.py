"""Drafts, commands, chat actions, webhooks, media and callback updates, groups and privacy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, RetryAfter
from telegram.warnings import PTBUserWarning

from tests.fakes.telegram import FakeTelegram, FloodLimits

from .helpers import ptb_message

# ---------------------------------------------------------------- drafts and chat actions


async def test_send_message_draft_streams_in_private_chats(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    assert await bot.send_message_draft(42, 7, "") is True  # "Thinking…" placeholder
    assert await bot.send_message_draft(42, 7, "Hel") is True
    assert await bot.send_message_draft(42, 7, "<b>Hello</b>", parse_mode="HTML") is True
    with pytest.warns(PTBUserWarning, match="use 'Bot.sendMessageDraft'"):  # PTB 22.8 has it
        raw = await bot.do_api_request(
            "sendMessageDraft", api_kwargs={"chat_id": 42, "draft_id": 7, "text": "Hello world"}
        )
    assert raw is True
    drafts = tg.drafts[chat]
    assert [d.text for d in drafts] == ["", "Hel", "Hello", "Hello world"]
    assert {d.draft_id for d in drafts} == {7}
    assert drafts[2].entities == [{"offset": 0, "length": 5, "type": "bold"}]
    assert tg.sent[chat] == []  # a draft is not a message


async def test_send_message_draft_rules(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_chat(42, "Alice")
    group = tg.group(-1001000000001, "Team")
    with pytest.raises(BadRequest) as caught:
        await bot.send_message_draft(group.id, 1, "hi")
    assert tg.calls[-1].description == "Bad Request: TEXTDRAFT_PEER_INVALID"
    assert caught.value.message == ptb_message("Bad Request: TEXTDRAFT_PEER_INVALID")
    with pytest.raises(BadRequest, match=r"^Draft_id must be non-zero$"):
        await bot.send_message_draft(42, 0, "hi")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message_draft(42, 1, "😀" * 2049)
    assert await bot.send_message_draft(42, 1, "a" * 4096) is True


async def test_chat_actions_are_recorded_and_checked(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    assert await bot.send_chat_action(42, "typing") is True
    assert [(a.chat_id, a.action) for a in tg.actions[chat]] == [(42, "typing")]
    with pytest.raises(BadRequest, match=r"^Wrong parameter action in request$"):
        await bot.send_chat_action(42, "dancing")


# ---------------------------------------------------------------- commands


async def test_commands_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    group = tg.group(-1001000000001, "Team")
    english = [BotCommand("start", "Start a chat"), BotCommand("model", "Pick a model")]
    german = [BotCommand("start", "Ein Gespräch beginnen")]
    assert await bot.set_my_commands(english) is True
    assert await bot.set_my_commands(german, language_code="de") is True
    assert await bot.set_my_commands(
        [BotCommand("reset", "Forget")], scope=BotCommandScopeChat(group.id)
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "model"]
    assert [c.description for c in await bot.get_my_commands(language_code="de")] == [
        "Ein Gespräch beginnen"
    ]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == ()
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(group.id))] == [
        "reset"
    ]
    assert tg.commands_for("default", "de") == [
        {"command": "start", "description": "Ein Gespräch beginnen"}
    ]
    assert tg.commands_for("chat", "", group.id)[0]["command"] == "reset"
    assert await bot.delete_my_commands(language_code="de") is True
    assert await bot.get_my_commands(language_code="de") == ()


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([BotCommand("Start", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("new-chat", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("a" * 33, "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("start", "")], "Bad Request: command description must be non-empty"),
        ([BotCommand("start", "x" * 257)], "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand(f"c{n}", "x") for n in range(101)], "Bad Request: BOT_COMMANDS_TOO_MUCH"),
    ],
)
async def test_invalid_commands_are_rejected(
    tg: FakeTelegram, bot: Bot, commands: list[BotCommand], description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.set_my_commands(commands)
    assert tg.calls[-1].description == description
    assert tg.commands == {}


async def test_an_invalid_language_code_is_rejected(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Lang_code_invalid$"):
        await bot.set_my_commands([BotCommand("start", "x")], language_code="english")


# ---------------------------------------------------------------- webhooks


@dataclass
class Receiver:
    """A small webhook endpoint: answers with the scripted statuses, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    seen: list[tuple[dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.seen.append((dict(request.headers), await request.json()))
        return web.Response(status=state.statuses.pop(0) if state.statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


async def test_webhook_delivers_updates_with_the_secret_header(
    tg: FakeTelegram, bot: Bot, receiver: Receiver
) -> None:
    chat = tg.private_chat(42, "Alice")
    await tg.user_says(chat, chat.user, "queued before the webhook")
    assert await bot.set_webhook(receiver.url, secret_token="s3cr3t_T0ken-x") is True
    await tg.user_says(chat, chat.user, "after")
    await tg.wait_for(lambda: len(receiver.seen) == 2)
    texts = []
    for headers, body in receiver.seen:
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_T0ken-x"
        assert headers["Content-Type"] == "application/json"
        update = Update.de_json(body, bot)
        assert update.message is not None
        texts.append(update.message.text)
    assert texts == ["queued before the webhook", "after"]
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert [d.delivered for d in tg.deliveries] == [True, True]


async def test_getupdates_conflicts_with_an_active_webhook(
    tg: FakeTelegram, bot: Bot, receiver: Receiver
) -> None:
    await bot.set_webhook(receiver.url)
    with pytest.raises(Conflict) as caught:
        await bot.get_updates()
    assert caught.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first"
    )
    assert await bot.delete_webhook() is True
    assert await bot.get_updates() == ()


async def test_webhook_retries_failures_then_drops(
    tg: FakeTelegram, bot: Bot, receiver: Receiver
) -> None:
    chat = tg.private_chat(42, "Alice")
    await bot.set_webhook(receiver.url)
    receiver.statuses = [500, 502]  # fails twice, the third try works
    await tg.user_says(chat, chat.user, "retried")
    await tg.wait_for(lambda: any(d.delivered for d in tg.deliveries))
    assert [(d.attempt, d.status) for d in tg.deliveries] == [(1, 500), (2, 502), (3, 200)]
    receiver.statuses = [500, 500, 500]  # fails every try: dropped after 3 attempts
    await tg.user_says(chat, chat.user, "dropped")
    await tg.user_says(chat, chat.user, "next")
    await tg.wait_for(lambda: len(receiver.seen) == 7)
    await tg.wait_for(lambda: tg.pending_updates == 0)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.pending_update_count == 0
    assert [body["message"]["text"] for _, body in receiver.seen[-4:]] == [
        "dropped",
        "dropped",
        "dropped",
        "next",
    ]


@pytest.mark.parametrize(
    ("secret", "description"),
    [
        ("has space", "Bad Request: secret token contains unallowed characters"),
        ("x" * 257, "Bad Request: secret token is too long"),
    ],
)
async def test_webhook_secret_tokens_are_validated(
    tg: FakeTelegram, bot: Bot, secret: str, description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token=secret)
    assert tg.calls[-1].description == description
    assert tg.webhook_url == ""


# ---------------------------------------------------------------- what users send


async def test_media_updates_parse_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    await tg.user_sends_sticker(chat, emoji="🔥")
    await tg.user_sends_photo(chat, caption="look at /this")
    await tg.user_sends_voice(chat, duration=5)
    await tg.user_sends_document(chat, file_name="a.txt", data=b"text file", caption="notes")
    sticker, photo, voice, document = [u.message for u in await bot.get_updates()]
    assert sticker is not None
    assert sticker.sticker is not None
    assert sticker.sticker.emoji == "🔥"
    assert sticker.sticker.type == "regular"
    assert photo is not None
    assert len(photo.photo) == 3
    assert photo.photo[-1].width == 1280
    assert photo.caption == "look at /this"
    assert [e.type for e in photo.caption_entities] == ["bot_command"]
    assert voice is not None
    assert voice.voice is not None
    assert voice.voice.mime_type == "audio/ogg"
    assert document is not None
    assert document.document is not None
    assert document.document.file_name == "a.txt"
    assert document.caption == "notes"
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert downloaded == bytearray(b"text file")


async def test_commands_mentions_and_replies_get_entities(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    answer = await bot.send_message(42, "an answer")
    text = "/model@chatrelay_bot gpt ask @someone #tag"
    await tg.user_says(chat, chat.user, text, reply_to=answer.message_id)
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bot_command", 0, 20),
        ("mention", 29, 8),
        ("hashtag", 38, 4),
    ]
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == answer.message_id
    assert message.reply_to_message.from_user is not None
    assert message.reply_to_message.from_user.is_bot


async def test_inline_buttons_and_callback_answers(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(42, "sure?", reply_markup=keyboard)
    assert sent.reply_markup == keyboard
    await tg.user_presses(chat, None, sent.message_id, "yes")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.data == "yes"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("ok") is True
    assert tg.callback_answers == [{"id": query.id, "text": "ok", "show_alert": False}]
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=keyboard)
    assert await bot.edit_message_reply_markup(42, sent.message_id) is not True
    assert tg.sent[chat][0].reply_markup is None


# ---------------------------------------------------------------- groups


async def test_privacy_mode_withholds_group_chatter(tg: FakeTelegram, bot: Bot) -> None:
    group = tg.group(-1001000000001, "Team")
    bob = tg.user(7, "Bob", "bob")
    assert await tg.user_says(group, bob, "just chatting") is None
    assert await tg.user_says(group, bob, "/start@other_bot") is None
    assert await tg.user_says(group, bob, "hey @chatrelay_bot") is None
    assert await tg.user_says(group, bob, "/ask@chatrelay_bot what?") is not None
    assert await tg.user_says(group, bob, "/help") is not None
    answer = await bot.send_message(group.id, "hi Bob")
    assert await tg.user_says(group, bob, "thanks", reply_to=answer.message_id) is not None
    texts = [u.message.text for u in await bot.get_updates() if u.message]
    assert texts == ["/ask@chatrelay_bot what?", "/help", "thanks"]
    assert len(tg.withheld) == 3
    admin_group = tg.group(-1001000000002, "Admins", bot_is_admin=True)
    assert await tg.user_says(admin_group, bob, "everything") is not None


async def test_forum_topics_and_groups_without_a_user(tg: FakeTelegram, bot: Bot) -> None:
    forum = tg.group(-1001000000003, "Forum", forum=True)
    bob = tg.user(7, "Bob")
    await tg.user_says(forum, bob, "/ask in a topic", message_thread_id=5)
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.message_thread_id == 5
    assert update.message.is_topic_message is True
    reply = await bot.send_message(forum.id, "topic answer", message_thread_id=5)
    assert reply.message_thread_id == 5
    assert tg.sent[forum][0].thread_id == 5
    with pytest.raises(ValueError, match="which user"):
        await tg.user_says(forum, None, "who am I?")


async def test_wait_for_times_out_with_a_clear_message(tg: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match=r"condition not met within 0\.05s"):
        await tg.wait_for(lambda: False, timeout=0.05)
    assert await asyncio.wait_for(tg.wait_for(lambda: "done", timeout=1), 1) == "done"


async def test_user_edits_arrive_as_edited_messages(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    await tg.user_says(chat, None, "helo")
    await tg.user_edits(chat, 1, "hello /start")
    first, second = await bot.get_updates()
    assert first.message is not None
    assert first.message.text == "helo"  # the queued update kept what was said then
    edited = second.edited_message
    assert edited is not None
    assert edited.text == "hello /start"
    assert edited.edit_date is not None
    assert [e.type for e in edited.entities] == ["bot_command"]


async def test_delete_messages_skips_missing_ones(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    one = await bot.send_message(42, "one")
    two = await bot.send_message(42, "two")
    assert await bot.delete_messages(42, [one.message_id, 99, two.message_id]) is True
    assert [m.deleted for m in tg.sent[chat]] == [True, True]


async def test_drafts_can_count_against_flood_limits(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter() reads retry_after, which warns
    tg.private_chat(42, "Alice")
    tg.set_flood_limits(FloodLimits(chat_burst=2, drafts_count=True))
    await bot.send_message_draft(42, 1, "a")
    await bot.send_message_draft(42, 1, "ab")
    with pytest.raises(RetryAfter):
        await bot.send_message_draft(42, 1, "abc")
