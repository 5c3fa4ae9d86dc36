"""Admins as the core knows them: exempt from per-user limits, and the only ones shown the
key's credit in groups."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

from .conftest import USERNAME, BotFactory


async def test_in_a_group_only_admins_see_the_keys_credit_and_skip_the_user_limit(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    group = tg.group(-1004001, "Team", bot_is_admin=True)
    boss, member = tg.user(71, "Boss", username="boss"), tg.user(72, "Member")
    limits = {"user_messages_per_minute": 1}
    async with running_bot(admin_users="telegram:@boss", core=limits):
        for n, user in enumerate((boss, boss, member, member)):
            await tg.user_says(group, user, f"@{USERNAME} question {n}")
            await tg.wait_for_sent(group, n + 1)
        await tg.user_says(group, boss, f"/stats@{USERNAME}")
        await tg.user_says(group, member, f"/stats@{USERNAME}")
        sent = await tg.wait_for_sent(group, 6)
    answers = [message.text for message in sent[:4]]
    assert answers[:3] == [
        "Echo: Boss: question 0",
        "Echo: Boss: question 1",
        "Echo: Member: question 2",
    ]
    assert "question 3" not in answers[3]  # the member's second message in a minute waits
    assert len(openrouter.chat_requests) == 3
    boss_stats, member_stats = sent[4].text, sent[5].text
    assert "OpenRouter key" in boss_stats
    assert "OpenRouter key" not in member_stats
