"""A person talking to the bot in a private chat, through the real python-telegram-bot."""

from __future__ import annotations

import pytest

from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter, Hang
from tests.fakes.telegram import FakeTelegram

from .conftest import BotFactory


async def test_a_message_is_answered_with_drafts_then_one_real_message(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    openrouter.enqueue(
        Answer(content=["The answer ", "is **42**", " - as computed."], chunk_delay=0.08)
    )
    chat = tg.private_chat(1001, "Ann")
    async with running_bot():
        await tg.user_says(chat, None, "What is the answer?")
        [sent] = await tg.wait_for_sent(chat)
    assert sent.text == "The answer is 42 - as computed."
    assert {"type": "bold", "offset": 14, "length": 2} in sent.entities
    assert tg.drafts[chat], "the answer streamed as drafts first"
    assert all(draft.draft_id for draft in tg.drafts[chat])
    assert tg.actions[chat]
    assert tg.actions[chat][0].action == "typing"
    assert sent.reply_to is None  # private chats need no reply quote


async def test_the_command_menu_is_registered_in_english_and_chinese(
    tg: FakeTelegram, running_bot: BotFactory
) -> None:
    async with running_bot():
        english = tg.commands_for()
        chinese = tg.commands_for("default", "zh")
    assert [c["command"] for c in english][:3] == ["think", "stats", "new"]
    assert {c["command"] for c in english} == {c["command"] for c in chinese}
    assert "用量" in next(c["description"] for c in chinese if c["command"] == "stats")


async def test_markdown_that_breaks_naive_escaping_arrives_intact(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    tricky = (
        "Use `a_b*c` or (x) [y] {z}: 1. 2! 3 - 4 = 5 | 6 # 7 + 8 ~ 9 > 10.\n\n"
        "```python\nprint('a_b*c')  # [x](y)\n```\n\n*snake_case_name* and __dunder__"
    )
    openrouter.enqueue(Answer(content=tricky))
    chat = tg.private_chat(1002, "Bo")
    async with running_bot():
        await tg.user_says(chat, None, "show me")
        [sent] = await tg.wait_for_sent(chat)
    assert "a_b*c" in sent.text
    assert "(x) [y] {z}: 1. 2! 3 - 4 = 5 | 6 # 7 + 8 ~ 9 > 10." in sent.text
    assert "print('a_b*c')  # [x](y)" in sent.text
    pre = [e for e in sent.entities if e["type"] == "pre"]
    assert pre
    assert pre[0].get("language") == "python"
    assert sent.parse_mode is None  # entities, never MarkdownV2 strings


async def test_a_long_streamed_answer_arrives_complete_under_flood_control(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    paragraph = "All work and no play makes Jack a dull boy. " * 10
    body = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(45))
    assert len(body) > 20_000
    openrouter.enqueue(Answer(content=body, chunks=60, chunk_delay=0.01))
    chat = tg.private_chat(1003, "Cy")
    async with running_bot(telegram_drafts=False):  # editing: every update counts as a send
        await tg.user_says(chat, None, "write a lot")
        await tg.wait_for(lambda: _joined(tg, chat.id).count("dull boy") == 450, timeout=20)
    texts = [m.text for m in tg.sent[chat]]
    assert all(len(text) <= 4096 for text in texts)
    assert 5 <= len(texts) <= 7
    for i in range(45):
        assert f"{i}. All work" in _joined(tg, chat.id)


def _joined(tg: FakeTelegram, chat_id: int) -> str:
    return "\n".join(m.text for m in tg.sent[chat_id])


async def test_three_quick_messages_are_answered_in_order(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1004, "Di")
    openrouter.enqueue(
        Answer(content="first", first_token_delay=0.3),
        Answer(content="second"),
        Answer(content="third"),
    )
    async with running_bot():
        for text in ("one", "two", "three"):
            await tg.user_says(chat, None, text)
        sent = await tg.wait_for_sent(chat, 3)
    assert [m.text for m in sent] == ["first", "second", "third"]
    prompts = [r.body["messages"][-1]["content"] for r in openrouter.chat_requests]
    assert prompts == ["one", "two", "three"]


async def test_history_survives_a_restart(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1005, "Ed")
    async with running_bot():
        await tg.user_says(chat, None, "my name is Ed")
        await tg.wait_for_sent(chat, 1)
    async with running_bot():
        await tg.user_says(chat, None, "what is my name?")
        await tg.wait_for_sent(chat, 2)
    last = openrouter.chat_requests[-1].body["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == [
        "my name is Ed",
        "what is my name?",
    ]


async def test_a_failure_is_explained_in_the_users_language_and_the_next_message_works(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1006, "Fang", language_code="zh-hans")
    openrouter.enqueue(ErrorReply(402, "Insufficient credits"))
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await tg.user_says(chat, None, "你好")
        [failure] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "再试一次")
        sent = await tg.wait_for_sent(chat, 2)
    assert "额度" in failure.text or "余额" in failure.text or "充值" in failure.text
    assert sent[1].text.startswith("Echo: 再试一次")


async def test_think_shows_the_reasoning_in_an_expandable_quote(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1007, "Gus")
    openrouter.enqueue(Answer(content="Paris.", reasoning="The capital of France is Paris."))
    async with running_bot():
        await tg.user_says(chat, None, "capital of France?")
        await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "/think")
        sent = await tg.wait_for_sent(chat, 2)
    shown = sent[1]
    assert "The capital of France is Paris." in shown.text
    quotes = [e for e in shown.entities if e["type"] == "expandable_blockquote"]
    assert quotes, shown.entities


async def test_stickers_voice_and_files_get_a_short_reply_and_no_llm_call(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1008, "Hu")
    async with running_bot():
        await tg.user_sends_sticker(chat)
        await tg.user_sends_voice(chat)
        await tg.user_sends_document(chat)
        sent = await tg.wait_for_sent(chat, 3)
        await tg.user_says(chat, None, "hello")
        sent = await tg.wait_for_sent(chat, 4)
    assert "stickers" in sent[0].text
    assert "voice messages" in sent[1].text
    assert "files" in sent[2].text
    assert sent[3].text.startswith("Echo: hello")
    assert len(openrouter.chat_requests) == 1


async def test_a_stranger_is_refused_once_and_costs_nothing(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    friend = tg.private_chat(1009, "Ivy", username="ivy")
    stranger = tg.private_chat(1010, "Jo")
    async with running_bot(telegram_allowed_users="@Ivy"):
        await tg.user_says(stranger, None, "hi")
        await tg.user_says(stranger, None, "hello?")
        await tg.user_says(friend, None, "hi")
        await tg.wait_for_sent(friend, 1)
        [refusal] = await tg.wait_for_sent(stranger, 1)
    assert "private" in refusal.text
    assert len(tg.sent[stranger]) == 1
    assert len(openrouter.chat_requests) == 1


async def test_a_long_text_split_by_the_telegram_app_is_answered_once(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1011, "Kai")
    first, second = "A" * 4000, "B" * 1200
    async with running_bot():
        await tg.user_says(chat, None, first)
        await tg.user_says(chat, None, second)
        answer, _ = await tg.wait_for_sent(chat, 2)  # the echo is two messages long
        await tg.user_says(chat, None, "short")
        await tg.wait_for(lambda: tg.sent[chat][-1].text == "Echo: short")
    assert len(openrouter.chat_requests) == 2
    prompt = openrouter.chat_requests[0].body["messages"][-1]["content"]
    assert prompt == first + "\n" + second
    assert answer.text.startswith("Echo: AAAA")


async def test_a_photo_with_a_caption_reaches_a_model_that_sees_images(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1012, "Lu")
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await tg.user_sends_photo(chat, caption="what is in this picture?")
        [answer] = await tg.wait_for_sent(chat, 1)
    [request] = openrouter.chat_requests
    [image] = request.image_urls
    assert image.startswith("data:image/jpeg;base64,/9j/")  # the largest size, as a JPEG
    assert "what is in this picture?" in answer.text


async def test_a_photo_for_a_text_only_model_gets_a_short_reply(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1013, "Mo")
    async with running_bot():  # the default model, tencent/hy3-preview:free, reads text only
        await tg.user_sends_photo(chat, caption="look")
        [refusal] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "ok, in words then")
        await tg.wait_for_sent(chat, 2)
    assert "can't see images" in refusal.text
    assert "tencent/hy3-preview:free" in refusal.text
    assert len(openrouter.chat_requests) == 1


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        # (a short Retry-After: the model is left alone that long, then the next message works)
        (ErrorReply.rate_limited(retry_after=1), "rate limited"),
        (ErrorReply.unavailable(), "unavailable right now"),
        (ErrorReply.moderation(reasons=("violence",)), "content policy: violence"),
        (Hang(seconds=60), "took too long"),
    ],
)
async def test_every_failure_ends_in_a_readable_message_and_the_next_message_works(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
    behaviour: ErrorReply | Hang,
    expected: str,
) -> None:
    chat = tg.private_chat(1014, "Ned")
    model = "openai/gpt-5"
    openrouter.set_model_behaviour(model, behaviour)
    fast = {"openrouter_models": model, "openrouter_first_token_timeout": 0.5}
    async with running_bot(core=fast):
        await tg.user_says(chat, None, "please fail")
        [failure] = await tg.wait_for_sent(chat, 1, timeout=15)
        openrouter.set_model_behaviour(model, None)
        await tg.user_says(chat, None, "and now?")
        sent = await tg.wait_for_sent(chat, 2, timeout=15)
    assert expected in failure.text
    assert "Your message is saved" in failure.text
    assert sent[1].text == "Echo: and now?"


async def test_a_photo_that_cannot_be_downloaded_gets_a_short_reply(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(1015, "Ola")
    tg.fail("getFile", 400, "Bad Request: file is too big")
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await tg.user_sends_photo(chat, caption="look")
        [reply] = await tg.wait_for_sent(chat, 1)
    assert "couldn't download" in reply.text
    assert openrouter.chat_requests == []
