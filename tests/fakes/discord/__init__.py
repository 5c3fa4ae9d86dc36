"""A fake Discord (REST v10 + gateway websocket) served over real sockets on 127.0.0.1, for the
real discord.py client in tests and benchmarks.

    async with FakeDiscord(rate_limits=RateLimits.off()) as fake:
        guild = fake.guild("Test Guild")
        general = fake.text_channel(guild, "general")
        alice = fake.user("alice")
        client = discord.Client(intents=intents, guild_ready_timeout=0.01)
        with fake.patch_discord():                   # Route.BASE + DEFAULT_GATEWAY
            task = asyncio.create_task(client.start(fake.token))
            await fake.wait_until_ready()
            await fake.user_says(general, alice, "hello")        # MESSAGE_CREATE
            [reply] = await fake.wait_for_sent(general, 1)       # what the bot sent
            assert reply.texts == ["..."]                        # every version, after edits

Strict where Discord is strict: content ≤2000, ≤10 embeds and embed limits (50035 Invalid Form
Body), empty messages (50006), unknown channels/messages (10003/10008), replies to unknown
messages, interaction callbacks only once (40060) and within 3 s of the clock (10062), webhook
tokens for 15 min, command names and descriptions, Authorization on bot routes, disallowed
privileged intents (close 4014), per-route and global rate limits (429 with Via, retry_after),
sharding (IDENTIFY's ``shard``; a guild's events only on its shard ``(guild_id >> 22) %
num_shards``, DMs only on shard 0; an invalid shard closes 4010; ``fake.guild(name, shard=(1, 2))``
makes a guild on shard 1 of 2; ``GET /gateway/bot`` recommends ``recommended_shards``).
Standalone:

    python -m tests.fakes.discord --port 8082 [--no-rate-limits] [--no-message-content]
"""

from .fake import FakeDiscord, main
from .limits import RateLimits
from .model import (
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILD_PRESENCES,
    GUILDS,
    MESSAGE_CONTENT,
    Call,
    Channel,
    DiscordError,
    GatewayEvent,
    Guild,
    Interaction,
    Message,
    Typing,
    User,
    Version,
)
from .server import Session, shard_of

__all__ = [
    "DIRECT_MESSAGES",
    "GUILDS",
    "GUILD_MEMBERS",
    "GUILD_MESSAGES",
    "GUILD_PRESENCES",
    "MESSAGE_CONTENT",
    "Call",
    "Channel",
    "DiscordError",
    "FakeDiscord",
    "GatewayEvent",
    "Guild",
    "Interaction",
    "Message",
    "RateLimits",
    "Session",
    "Typing",
    "User",
    "Version",
    "main",
    "shard_of",
]
