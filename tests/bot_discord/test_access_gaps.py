"""Access on Discord: identities per platform, roles by id only, /new for admins."""

from __future__ import annotations

from tests.fakes.discord.model import EPHEMERAL
from tests.fakes.openrouter import FakeOpenRouter

from .conftest import BotFactory, World


async def test_a_role_is_matched_by_id_never_by_a_name_copied_elsewhere(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    helpers = fake.role(world.guild, "helpers")
    fake.give_role(world.guild, world.alice, helpers)
    elsewhere = fake.guild("Bob's own server")
    lookalike = fake.role(elsewhere, str(helpers))  # a role *named* like the allowed id
    fake.give_role(elsewhere, world.bob, lookalike)
    bobs_channel = fake.text_channel(elsewhere, "lobby")
    async with running_bot(discord_allowed_roles=str(helpers)):
        await fake.user_says(bobs_channel, world.bob, "let me in", mentions_bot=True)
        [refusal] = await fake.wait_for_sent(bobs_channel, 1)
        await fake.user_says(world.general, world.alice, "hello", mentions_bot=True)
        [answer] = await fake.wait_for_sent(world.general, 1)
    assert "private" in refusal.content
    assert answer.content == "Echo: Alice: hello"
    assert len(openrouter.chat_requests) == 1


async def test_a_telegram_admin_name_does_not_make_a_discord_user_an_admin(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot(admin_users="telegram:@alice, discord:@bob"):
        alice = await fake.user_runs_command(general, world.alice, "system", {"prompt": "pirate"})
        bob = await fake.user_runs_command(general, world.bob, "system", {"prompt": "pirate"})
        await fake.wait_for(lambda: alice.original and bob.original)
    assert alice.original is not None
    assert "admin" in alice.original.content
    assert alice.original.flags & EPHEMERAL
    assert bob.original is not None
    assert "admin" not in bob.original.content


async def test_new_in_a_server_channel_is_for_admins_when_admins_are_set(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot(admin_users=f"discord:{world.alice.id}"):
        await fake.user_says(general, world.bob, "remember the number 7", mentions_bot=True)
        await fake.wait_for_sent(general, 1)
        refused = await fake.user_runs_command(general, world.bob, "new")
        await fake.wait_for(lambda: refused.original)
        await fake.user_says(general, world.bob, "/new", mentions_bot=True)
        [_, typed] = await fake.wait_for_sent(general, 2)
        await fake.user_says(general, world.bob, "which number?", mentions_bot=True)
        await fake.wait_for_sent(general, 3)
        done = await fake.user_runs_command(general, world.alice, "new")
        await fake.wait_for(lambda: done.original and "▌" not in done.original.content)
        await fake.user_says(general, world.bob, "which number now?", mentions_bot=True)
        await fake.wait_for(
            lambda: any("which number now" in m.content for m in fake.sent[general.id])
        )
    assert refused.original is not None
    assert "admin" in refused.original.content
    assert refused.original.flags & EPHEMERAL
    assert "admin" in typed.content
    assert done.original is not None
    assert "admin" not in done.original.content
    kept = str(openrouter.chat_requests[1].body["messages"])
    assert "remember the number 7" in kept
    fresh = str(openrouter.chat_requests[2].body["messages"])
    assert "remember the number 7" not in fresh


async def test_new_in_a_dm_needs_no_admin(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.bob)
    async with running_bot(admin_users=f"discord:{world.alice.id}"):
        done = await fake.user_runs_command(dm, world.bob, "new")
        await fake.wait_for(lambda: done.original and "▌" not in done.original.content)
    assert done.original is not None
    assert "admin" not in done.original.content
