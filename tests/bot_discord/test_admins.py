"""Admins as the core knows them: exempt from per-user limits, and the only ones shown the
key's credit in server channels."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter

from .conftest import BotFactory, World


async def test_in_a_server_only_admins_see_the_keys_credit_and_skip_the_user_limit(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    alice, bob = world.alice, world.bob
    limits = {"user_messages_per_minute": 1}
    async with running_bot(admin_users=f"discord:@{alice.username}", core=limits):
        for n, user in enumerate((alice, alice, bob, bob)):
            await fake.user_says(general, user, f"question {n}", mentions_bot=True)
            await fake.wait_for_sent(general, n + 1)
        admin = await fake.user_runs_command(general, alice, "stats")
        member = await fake.user_runs_command(general, bob, "stats")
        await fake.wait_for(lambda: all(i.original and i.original.embeds for i in (admin, member)))
    answers = [message.content for message in fake.sent[general.id][:4]]
    assert answers[:3] == [
        "Echo: Alice: question 0",
        "Echo: Alice: question 1",
        "Echo: Bob: question 2",
    ]
    assert "question 3" not in answers[3]  # Bob's second message in a minute waits
    assert len(openrouter.chat_requests) == 3
    assert admin.original is not None
    assert member.original is not None
    assert "OpenRouter key" in str(admin.original.embeds)  # /stats is an embed
    assert "OpenRouter key" not in str(member.original.embeds)
