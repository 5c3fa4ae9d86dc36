"""Access in groups: identities per platform, /new for admins, other bots' commands."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

from .conftest import USERNAME, BotFactory


async def test_a_discord_admin_name_does_not_make_a_telegram_user_an_admin(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1002001, "Team")
    namesake = tg.user(61, "Boss?", username="boss")
    boss = tg.user(62, "Boss", username="realboss")
    async with running_bot(admin_users="discord:@boss, telegram:@RealBoss"):
        await tg.user_says(group, namesake, f"/system@{USERNAME} talk like a pirate")
        [refusal] = await tg.wait_for_sent(group, 1)
        await tg.user_says(group, boss, f"/system@{USERNAME} talk like a pirate")
        sent = await tg.wait_for_sent(group, 2)
    assert "admin" in refusal.text
    assert "admin" not in sent[1].text


async def test_a_discord_user_on_the_allow_list_does_not_admit_a_telegram_namesake(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    namesake = tg.private_chat(63, "Ann", username="ann")
    friend = tg.private_chat(64, "Bea", username="bea")
    async with running_bot(admin_users="discord:@ann", telegram_allowed_users="@bea"):
        await tg.user_says(namesake, None, "hi")
        await tg.user_says(friend, None, "hi")
        [refusal] = await tg.wait_for_sent(namesake, 1)
        await tg.wait_for_sent(friend, 1)
    assert "private" in refusal.text
    assert len(openrouter.chat_requests) == 1


async def test_new_in_a_group_is_for_admins_when_admins_are_set(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1002002, "Team", bot_is_admin=True)
    boss, member = tg.user(65, "Boss", username="boss"), tg.user(66, "Member")
    async with running_bot(admin_users="telegram:@boss"):
        await tg.user_says(group, member, f"@{USERNAME} remember the number 7")
        await tg.wait_for_sent(group, 1)
        await tg.user_says(group, member, "/new")
        [_, refusal] = await tg.wait_for_sent(group, 2)
        await tg.user_says(group, member, f"@{USERNAME} which number?")
        await tg.wait_for_sent(group, 3)
        await tg.user_says(group, boss, "/new")
        await tg.wait_for_sent(group, 4)
        await tg.user_says(group, member, f"@{USERNAME} which number now?")
        await tg.wait_for_sent(group, 5)
    assert "admin" in refusal.text
    assert "/new" in refusal.text
    kept = [m["content"] for m in openrouter.chat_requests[1].body["messages"]]
    assert any("remember the number 7" in str(content) for content in kept)
    fresh = [m["content"] for m in openrouter.chat_requests[2].body["messages"]]
    assert not any("remember the number 7" in str(content) for content in fresh)


async def test_new_in_a_private_chat_needs_no_admin(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(67, "Cleo")
    async with running_bot(admin_users="telegram:@boss"):
        await tg.user_says(chat, None, "/new")
        [reply] = await tg.wait_for_sent(chat, 1)
    assert "admin" not in reply.text


async def test_other_bots_commands_get_no_answer_in_a_group(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1002003, "Bots everywhere")  # privacy mode: the bot sees bare commands
    ann = tg.user(68, "Ann")
    async with running_bot():
        await tg.user_says(group, ann, "/start")
        await tg.user_says(group, ann, "/foo")
        await tg.user_says(group, ann, "/weather@other_bot Paris")
        await tg.user_says(group, ann, "/help")
        [help_text] = await tg.wait_for_sent(group, 1)
        await tg.user_says(group, ann, f"/start@{USERNAME}")
        await tg.wait_for_sent(group, 2)
        await tg.user_says(group, ann, f"/foo@{USERNAME}")
        sent = await tg.wait_for_sent(group, 3)
    assert "/think" in help_text.text
    assert "Unknown command /foo" in sent[2].text
    assert len(tg.sent[group]) == 3
    assert openrouter.chat_requests == []


async def test_an_unknown_command_in_a_private_chat_is_still_answered(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(69, "Dan")
    async with running_bot():
        await tg.user_says(chat, None, "/foo")
        [reply] = await tg.wait_for_sent(chat, 1)
    assert "Unknown command /foo" in reply.text
