"""The Discord adapter's lifecycle: a discord.py client with the message content intent, slash
commands registered (and translated) on start-up, and a clean stop.

Without ``DISCORD_SHARD_COUNT`` the client is a plain ``discord.Client``: one gateway connection,
no ``GET /gateway/bot``. With it, an ``AutoShardedClient`` runs this replica's shards (given
``shard_count``, discord.py connects to the configured gateway and does not ask
``GET /gateway/bot`` either); only the replica running shard 0 registers the slash commands."""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import yarl

with warnings.catch_warnings():  # discord.py imports the deprecated stdlib audioop (voice)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
from discord import app_commands

from bots.discord.catchup import CatchUp
from bots.discord.handler import DiscordHandler, DiscordOptions
from bots.discord.render import DiscordRenderer
from bots.discord.settings import DEFAULT_API_BASE_URL, DEFAULT_GATEWAY_URL, DiscordSettings
from bots.discord.shards import Sharding
from bots.discord.sink import QUIET
from bots.download import Downloader
from bots.retry import DeliveryRetry
from core.access import DISCORD, AccessPolicy
from core.app import Core
from core.domain import InboxEntry, Language
from core.errors import ConfigError, InfrastructureError, LLMError
from core.i18n import Translator
from core.inbox import Journal
from core.ports import Clock

log = logging.getLogger("chatrelay.discord")

READY_TIMEOUT = 60.0
IDENTIFY_INTERVAL = 5.0  # discord.py waits this long before each further shard's IDENTIFY
SHARD_SETTINGS_REFUSED = {4010: "Invalid shard", 4011: "Sharding required"}
MODEL_CHOICES = 25  # Discord shows at most 25 autocomplete choices


def point_at(settings: DiscordSettings) -> None:
    """discord.py reads its REST base and gateway from class attributes; it never asks the
    REST API for the gateway, so both are set when either server is not Discord's."""
    if settings.api_base_url != DEFAULT_API_BASE_URL:
        discord.http.Route.BASE = settings.api_base_url
    if settings.discord_gateway_url != DEFAULT_GATEWAY_URL:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class MenuTranslator(app_commands.Translator):
    """Slash command descriptions in the user's Discord language (Chinese for zh-CN/zh-TW)."""

    def __init__(self, translator: Translator) -> None:
        self._t = translator

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: Any
    ) -> str | None:
        key = string.extras.get("key")
        lang = Language.from_code(locale.value)
        if key is None or lang is None or lang is Language.EN:
            return None
        return self._t(lang, key)


def text(translator: Translator, key: str) -> app_commands.locale_str:
    return app_commands.locale_str(translator(Language.EN, key), key=key)


class GatewayLinks:
    """Whether each gateway connection is up, from discord.py's events: one per shard of this
    process, or one (``None``) without sharding. A connection is down from a disconnect
    (discord.py then reconnects on its own, with growing pauses) until READY or RESUMED."""

    def __init__(self, shards: Sequence[int] | None = None) -> None:
        self._sharded = shards is not None
        keys: list[int | None] = [None] if shards is None else list(shards)
        self._failures: dict[int | None, int] = dict.fromkeys(keys, 0)
        self._ready: set[int | None] = set()

    def up(self, shard: int | None = None) -> None:
        self._failures[shard] = 0
        self._ready.add(shard)

    def down(self, shard: int | None = None) -> None:
        self._failures[shard] += 1

    @property
    def failure(self) -> str | None:
        """Why a connection is not up (each shard that is not, by number), or None."""
        reasons = [(shard, self._reason(shard)) for shard in self._failures]
        if not self._sharded:
            return reasons[0][1]
        return "; ".join(f"shard {s}: {r}" for s, r in reasons if r is not None) or None

    def _reason(self, shard: int | None) -> str | None:
        failures = self._failures[shard]
        if failures:
            failed = failures - 1  # the first event is the drop itself
            if not failed:
                return "gateway disconnected, reconnecting"
            return f"gateway disconnected, reconnecting ({failed} attempts failed so far)"
        if self._sharded and shard not in self._ready:
            return "not ready yet"
        return None


SessionStarted = Callable[[int | None], None]  # a new gateway session, on a shard (or None)


def _no_session(shard: int | None) -> None:
    return None


class ChatrelayClient(discord.Client):
    """The bot on one unsharded gateway connection (``options``: for subclasses' bases)."""

    def __init__(
        self,
        *,
        handler: DiscordHandler,
        core: Core,
        guild_ids: tuple[int, ...],
        guild_ready_timeout: float,
        link: GatewayLinks,
        on_session: SessionStarted = _no_session,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        # A text bot: discord.py's start-up warnings about missing voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents,
            allowed_mentions=QUIET,
            guild_ready_timeout=guild_ready_timeout,
            **options,
        )
        self._handler = handler
        self._core = core
        self._guild_ids = guild_ids
        self._link = link
        self._on_session = on_session  # a new gateway session (READY): events may be missed
        self.tree = app_commands.CommandTree(self)
        self._register()

    @property
    def registers_commands(self) -> bool:
        """Whether this process registers the slash commands (all of it does, unsharded)."""
        return True

    async def setup_hook(self) -> None:
        await self.tree.set_translator(MenuTranslator(self._core.translator))
        if not self.registers_commands:
            return
        if self._guild_ids:
            for guild_id in self._guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_ready(self) -> None:
        self._link.up()
        self._on_session(None)

    async def on_resumed(self) -> None:
        self._link.up()

    async def on_disconnect(self) -> None:
        if not self.is_closed():
            log.warning("discord gateway disconnected; reconnecting")
        self._link.down()

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None:
            await self._handler.on_message(message, self.user)

    def _register(self) -> None:
        t = self._core.translator
        handler = self._handler
        catalog = self._core.catalog

        @self.tree.command(name="ask", description=text(t, "menu.ask"))
        @app_commands.describe(prompt=text(t, "menu.arg.prompt"))
        async def ask(interaction: discord.Interaction, prompt: str) -> None:
            await handler.on_ask(interaction, prompt)

        @self.tree.command(name="think", description=text(t, "menu.think"))
        @app_commands.describe(prompt=text(t, "menu.arg.prompt"))
        async def think(interaction: discord.Interaction, prompt: str | None = None) -> None:
            await handler.on_command(interaction, f"/think {prompt or ''}".strip())

        @self.tree.command(name="model", description=text(t, "menu.model"))
        @app_commands.describe(model=text(t, "menu.arg.model"))
        async def model(interaction: discord.Interaction, model: str | None = None) -> None:
            await handler.on_command(interaction, f"/model {model or ''}".strip())

        @model.autocomplete("model")
        async def model_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            try:
                models = await catalog.get()
            except LLMError as error:  # no suggestions is the right answer then
                log.warning("model list unavailable for autocomplete", extra={"reason": str(error)})
                return []
            wanted = current.lower()
            ids = [m.id for m in models if wanted in m.id.lower()][:MODEL_CHOICES]
            return [app_commands.Choice(name=model_id[:100], value=model_id) for model_id in ids]

        @self.tree.command(name="system", description=text(t, "menu.system"))
        @app_commands.describe(prompt=text(t, "menu.arg.system"))
        async def system(interaction: discord.Interaction, prompt: str | None = None) -> None:
            await handler.on_command(interaction, f"/system {prompt or ''}".strip())

        @self.tree.command(name="lang", description=text(t, "menu.lang"))
        @app_commands.describe(language=text(t, "menu.arg.lang"))
        @app_commands.choices(
            language=[
                app_commands.Choice(name="English", value="en"),
                app_commands.Choice(name="中文", value="zh"),
            ]
        )
        async def lang(interaction: discord.Interaction, language: str) -> None:
            await handler.on_command(interaction, f"/lang {language}")

        for name in ("stats", "new", "help"):
            self.tree.add_command(self._simple(name, t))

    def _simple(self, name: str, t: Translator) -> app_commands.Command[Any, Any, None]:
        handler = self._handler

        async def run(interaction: discord.Interaction) -> None:
            await handler.on_command(interaction, f"/{name}")

        return app_commands.Command(name=name, description=text(t, f"menu.{name}"), callback=run)


class ShardedChatrelayClient(ChatrelayClient, discord.AutoShardedClient):
    """The bot on this process's shards (``AutoShardedClient`` with ``shard_ids`` and
    ``shard_count``): each shard's connection is followed on its own (``on_shard_*``), and a
    new session on a shard asks for that shard's catch-up."""

    def __init__(self, *, sharding: Sharding, **client: Any) -> None:
        super().__init__(shard_ids=list(sharding.ids), shard_count=sharding.count, **client)
        self.sharding = sharding

    @property
    def registers_commands(self) -> bool:
        return self.sharding.has_dms

    async def setup_hook(self) -> None:
        await super().setup_hook()
        if not self.registers_commands:
            log.info(
                "slash commands not registered here: the replica running shard 0 registers them",
                extra={"shards": str(self.sharding)},
            )

    async def on_ready(self) -> None:
        """Every shard is ready (each said so in ``on_shard_ready``)."""

    async def on_resumed(self) -> None:
        """A shard resumed (``on_shard_resumed`` follows)."""

    async def on_disconnect(self) -> None:
        """A shard dropped (``on_shard_disconnect`` follows)."""

    async def on_shard_ready(self, shard_id: int) -> None:
        self._link.up(shard_id)
        self._on_session(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._link.up(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        if not self.is_closed():
            log.warning("discord gateway disconnected; reconnecting", extra={"shard": shard_id})
        self._link.down(shard_id)


def make_client(sharding: Sharding | None, **client: Any) -> ChatrelayClient:
    """A plain client without sharding (exactly as a single process always ran), else one
    running ``sharding``'s shards."""
    if sharding is None:
        return ChatrelayClient(**client)
    return ShardedChatrelayClient(sharding=sharding, **client)


class DiscordBot:
    """Discord for one process: ``await start()`` (returns once connected and ready), then
    ``await stop()`` on shutdown."""

    def __init__(
        self,
        settings: DiscordSettings,
        core: Core,
        clock: Clock,
        *,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self._settings = settings
        self._core = core
        self._downloader = Downloader()
        self._sharding = settings.sharding
        self._link = GatewayLinks(None if self._sharding is None else self._sharding.ids)
        self._handler = DiscordHandler(
            service=core.service,
            translator=core.translator,
            default_language=core.config.default_language,
            access=AccessPolicy(
                DISCORD,
                allowed_users=settings.discord_allowed_users,
                allowed_chats=(
                    *settings.discord_allowed_guilds,
                    *settings.discord_allowed_channels,
                ),
                allowed_roles=settings.discord_allowed_roles,
                admins=settings.admin_users,
            ),
            renderer=DiscordRenderer(),
            clock=clock,
            options=DiscordOptions(
                edit_interval=settings.discord_edit_interval,
                ask_threads=settings.discord_ask_threads,
                text_file_max_bytes=settings.discord_text_file_max_kb * 1024,
                image_max_bytes=core.config.max_image_bytes,
            ),
            downloader=self._downloader,
            accept=core.inbox.accept,
            delivery=DeliveryRetry(
                seconds=settings.discord_delivery_retry_seconds,
                failed=functools.partial(core.metrics.delivery_failed, DISCORD),
            ),
        )
        self.client = make_client(
            self._sharding,
            handler=self._handler,
            core=core,
            guild_ids=settings.discord_guild_ids,
            guild_ready_timeout=guild_ready_timeout,
            link=self._link,
            on_session=self._catch_up_soon,
        )
        self._catch_up = CatchUp(
            client=self.client,
            store=core.store,
            deliver=self._handle,
            clock=clock,
            minutes=settings.discord_catch_up_minutes,
        )
        self._catching_up: dict[int | None, asyncio.Task[int]] = {}
        self._task: asyncio.Task[None] | None = None

    async def _handle(self, message: discord.Message) -> None:
        user = self.client.user
        if user is not None:
            await self._handler.on_message(message, user)

    def _catch_up_soon(self, shard: int | None) -> None:
        """Read back what was said while the bot was away (once per gateway session): in the
        conversations of ``shard`` (None: all of them, unsharded)."""
        running = self._catching_up.get(shard)
        if running is not None and not running.done():
            return
        scope = None if shard is None or self._sharding is None else self._sharding.only(shard)
        name = "discord-catch-up" if shard is None else f"discord-catch-up-shard-{shard}"
        self._catching_up[shard] = asyncio.create_task(self._catch_up.run(scope), name=name)

    name = "discord"

    @property
    def connected(self) -> bool:
        """Connected to the gateway and ready."""
        return self.readiness is None

    @property
    def readiness(self) -> str | None:
        """Why the bot is not connected (None: it is): closed, not ready yet, or the gateway
        dropped and is not back (READY or RESUMED) yet; sharded, every shard of this process
        must be connected, and the reason names those that are not."""
        if self.client.is_closed():
            return "disconnected"
        if not self.client.is_ready():
            waiting = self._link.failure if self._sharding is not None else None
            return waiting or "not ready yet"
        return self._link.failure

    async def start(self) -> None:
        point_at(self._settings)
        self._downloader.open()
        self._task = asyncio.create_task(self.client.start(self._settings.token), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {self._task, ready},
                timeout=self._ready_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
        if self._task in done or ready not in done:
            await self.client.close()
            await self._downloader.aclose()
            if self._task in done:
                self._raise_start_failure(self._task)
            if self._sharding is None:
                raise InfrastructureError("Discord did not get ready within a minute")
            raise InfrastructureError(
                f"Discord did not get ready within {self._ready_timeout:.0f} s "
                f"({self._link.failure or 'not ready yet'})"
            )
        self._core.inbox.register(DISCORD, self._process)
        await self._core.inbox.start()
        extra = {"bot": str(self.client.user)}
        if self._sharding is not None:
            extra["shards"] = str(self._sharding)
        log.info("discord connected", extra=extra)

    @property
    def _ready_timeout(self) -> float:
        """A minute, and discord.py's pause before each further shard's IDENTIFY."""
        shards = 1 if self._sharding is None else len(self._sharding.ids)
        return READY_TIMEOUT + IDENTIFY_INTERVAL * (shards - 1)

    @staticmethod
    def _raise_start_failure(task: asyncio.Task[None]) -> None:
        error = task.exception()
        if isinstance(error, discord.LoginFailure):
            raise ConfigError("DISCORD_BOT_TOKEN was refused by Discord") from None
        if isinstance(error, discord.ConnectionClosed) and error.code in SHARD_SETTINGS_REFUSED:
            raise ConfigError(
                f"Discord refused the shard settings ({SHARD_SETTINGS_REFUSED[error.code]}, "
                f"close code {error.code}): check DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS"
            ) from None
        if isinstance(error, discord.PrivilegedIntentsRequired):
            raise ConfigError(
                "the bot needs the Message Content intent: Discord Developer Portal -> your "
                "application -> Bot -> Privileged Gateway Intents -> Message Content Intent"
            ) from None
        if error is not None:
            raise InfrastructureError(f"cannot connect to Discord: {error}") from None
        raise InfrastructureError("the Discord client stopped before it was ready")

    async def _process(self, entry: InboxEntry, journal: Journal) -> None:
        await self._handler.process(entry, journal, self.client)

    async def stop(self) -> None:
        """Take nothing new, let answers in flight finish within the grace (the rest is left
        to the next start), then disconnect."""
        self._handler.close()
        catching_up = [task for task in self._catching_up.values() if not task.done()]
        for task in catching_up:
            task.cancel()  # what it did not reach is read again at the next start
        await asyncio.gather(*catching_up, return_exceptions=True)
        try:
            await self._core.inbox.stop(self._settings.discord_shutdown_grace)
            await self.client.close()
            if self._task is not None:
                try:
                    await self._task
                except Exception:
                    log.warning("the Discord client ended with an error", exc_info=True)
        finally:
            await self._downloader.aclose()
