"""The bot in groups, supergroups and forum topics."""

from __future__ import annotations

import pytest

from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram, FloodLimits

from .conftest import USERNAME, BotFactory


async def test_the_bot_answers_mentions_replies_and_its_commands_and_ignores_the_rest(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1001234, "Friends", bot_is_admin=True)  # an admin bot sees everything
    ann, bob = tg.user(11, "Ann"), tg.user(12, "Bob", username="bob")
    async with running_bot():
        await tg.user_says(group, ann, "just chatting, no bot here")
        await tg.user_says(group, ann, f"@{USERNAME} what is 2+2?")
        [first] = await tg.wait_for_sent(group, 1)
        await tg.user_says(group, bob, "and 3+3?", reply_to=first)
        await tg.user_says(group, bob, "/help@some_other_bot")
        await tg.user_says(group, bob, f"/help@{USERNAME}")
        sent = await tg.wait_for_sent(group, 3)
    assert first.text == "Echo: Ann: what is 2+2?"
    assert sent[1].text == "Echo: Bob: and 3+3?"
    assert "/think" in sent[2].text
    assert first.reply_to is not None  # answers in groups quote the question
    assert len(openrouter.chat_requests) == 2
    turns = openrouter.chat_requests[1].body["messages"]
    users = [m["content"] for m in turns if m["role"] == "user"]
    assert users[0] == "Ann: what is 2+2?"
    assert users[1] == "Bob: and 3+3?"


async def test_each_forum_topic_has_its_own_history(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    forum = tg.group(-1005555, "Forum", forum=True, bot_is_admin=True)
    ann = tg.user(21, "Ann")
    async with running_bot():
        await tg.user_says(forum, ann, f"@{USERNAME} topic one", message_thread_id=7)
        await tg.wait_for_sent(forum, 1)
        await tg.user_says(forum, ann, f"@{USERNAME} topic two", message_thread_id=9)
        sent = await tg.wait_for_sent(forum, 2)
    assert [m.thread_id for m in sent] == [7, 9]
    second = openrouter.chat_requests[1].body["messages"]
    assert not any("topic one" in str(m["content"]) for m in second)


@pytest.mark.parametrize("limits", [FloodLimits()])
async def test_a_long_answer_streams_into_a_group_under_its_flood_limits(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1007777, "Busy", bot_is_admin=True)
    ann = tg.user(31, "Ann")
    body = "\n\n".join(f"Paragraph {i}: " + "words and more words. " * 40 for i in range(23))
    assert len(body) > 20_000
    openrouter.enqueue(Answer(content=body, chunks=80, chunk_delay=0.02))
    async with running_bot():
        await tg.user_says(group, ann, f"@{USERNAME} essay please")
        await tg.wait_for(
            lambda: "Paragraph 22:" in "".join(m.text for m in tg.sent[group]), timeout=30
        )
    texts = [m.text for m in tg.sent[group]]
    joined = "\n".join(texts)
    for i in range(23):
        assert f"Paragraph {i}:" in joined
    assert all(len(t) <= 4096 for t in texts)
    assert joined.count("words and more words.") == 23 * 40


async def test_settings_changes_in_a_group_are_for_admins_when_admins_are_set(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1008888, "Team")
    boss, member = tg.user(41, "Boss", username="boss"), tg.user(42, "Member")
    async with running_bot(admin_users="telegram:@boss"):
        await tg.user_says(group, member, f"/system@{USERNAME} talk like a pirate")
        [refusal] = await tg.wait_for_sent(group, 1)
        await tg.user_says(group, boss, f"/system@{USERNAME} talk like a pirate")
        sent = await tg.wait_for_sent(group, 2)
    assert "admin" in refusal.text
    assert "pirate" not in refusal.text
    assert sent[1].text != refusal.text
