"""The Telegram adapter's lifecycle: build python-telegram-bot's Application (for its bot and
HTTP requests), register the command menu, receive updates into the inbox by long polling or
webhook (bots.telegram.receiving), answer them as the inbox hands them over, and stop cleanly."""

from __future__ import annotations

import functools
import logging

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bots.download import Downloader
from bots.refusals import RecentRefusals
from bots.retry import DeliveryRetry
from bots.telegram.handler import StreamingOptions, TelegramHandler
from bots.telegram.receiving import Poller, WebhookServer
from bots.telegram.render import Renderer
from bots.telegram.settings import TelegramSettings
from bots.telegram.transport import AiohttpRequest, Outcomes
from bots.telegram.updates import SplitMessages
from core.access import TELEGRAM, AccessPolicy
from core.app import Core
from core.commands import COMMAND_NAMES
from core.domain import InboxEntry, Language
from core.errors import ConfigError, InfrastructureError
from core.inbox import Journal
from core.leases import Leadership
from core.ports import Clock

log = logging.getLogger("chatrelay.telegram")

START_RETRY_FIRST = 1.0  # seconds before trying to reach Telegram again at start, doubling...
START_RETRY_MOST = 60.0  # ...up to this
MENU = tuple(name for name in COMMAND_NAMES if name != "start")
ALLOWED_UPDATES = [Update.MESSAGE]


def polling_lease(settings: TelegramSettings) -> str:
    """The lease of the one replica polling for this bot (named by the bot's id, the part of
    its token before the colon, never the secret part)."""
    return f"telegram-polling:{settings.token.split(':', 1)[0]}"


def build_application(settings: TelegramSettings, polling: Outcomes) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .updater(None)  # updates are received by bots.telegram.receiving, into the inbox
        .request(AiohttpRequest(connection_pool_size=256))
        .get_updates_request(
            AiohttpRequest(connection_pool_size=2, read_timeout=40.0, outcomes=polling)
        )
        .build()
    )


class TelegramBot:
    """Telegram for one process: ``await start()``, then ``await stop()`` on shutdown."""

    def __init__(self, settings: TelegramSettings, core: Core, clock: Clock) -> None:
        self._settings = settings
        self._core = core
        self._clock = clock
        splits = SplitMessages(settings.telegram_merge_window, clock)
        self._polling = Outcomes()
        self._app = build_application(settings, self._polling)
        self._downloader = Downloader()
        self._handler = TelegramHandler(
            service=core.service,
            translator=core.translator,
            default_language=core.config.default_language,
            access=AccessPolicy(
                TELEGRAM,
                allowed_users=settings.telegram_allowed_users,
                allowed_chats=settings.telegram_allowed_chats,
                admins=settings.admin_users,
            ),
            renderer=Renderer(),
            clock=clock,
            splits=splits,
            streaming=StreamingOptions(
                drafts=settings.telegram_drafts,
                private_interval=settings.telegram_private_edit_interval,
                group_interval=settings.telegram_group_edit_interval,
                placeholders=settings.telegram_placeholders,
            ),
            refusals=RecentRefusals(clock),
            downloader=self._downloader,
            max_image_bytes=core.config.max_image_bytes,
            delivery=DeliveryRetry(
                seconds=settings.telegram_delivery_retry_seconds,
                failed=functools.partial(core.metrics.delivery_failed, TELEGRAM),
            ),
            following=core.inbox.following,
            arrival=core.inbox.arrival,
        )
        bot = self._app.bot
        self._poller = Poller(
            bot=bot,
            receive=self._receive,
            room=core.inbox.room,
            clock=clock,
            outcomes=self._polling,
            allowed_updates=ALLOWED_UPDATES,
            leadership=Leadership(
                core.leases,
                clock,
                name=polling_lease(settings),
                owner=core.inbox.owner,
                seconds=core.inbox.lease_seconds,
            ),
        )
        self._webhook = WebhookServer(
            bot=bot,
            receive=self._receive,
            path=settings.webhook_path,
            secret=settings.webhook_secret,
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
        )

    name = "telegram"

    @property
    def connected(self) -> bool:
        """Receiving updates: the webhook server is running, or polling is and its last
        getUpdates worked."""
        return self.readiness is None

    @property
    def readiness(self) -> str | None:
        """Why updates are not arriving (None: they are). A failed getUpdates (network down,
        Telegram's 5xx, 409 for another copy polling with this token) makes the bot not ready
        until one succeeds again."""
        if self._webhook.running:
            return None
        if not self._poller.running:
            return "not receiving updates"
        if self._polling.failure is not None:
            return f"getUpdates is failing ({self._polling.failure})"
        return None

    @property
    def username(self) -> str:
        return str(self._app.bot.username)

    async def start(self) -> None:
        await self._initialize()
        await self._register_commands()
        self._downloader.open()
        self._core.inbox.register(TELEGRAM, self._process)
        await self._core.inbox.start()
        webhook_url = self._settings.telegram_webhook_url
        if webhook_url:
            await self._webhook.start(webhook_url, ALLOWED_UPDATES)
            log.info(
                "telegram webhook listening", extra={"port": self._settings.telegram_webhook_port}
            )
        else:
            await self._poller.start()
            log.info("telegram long polling", extra={"bot": self.username})

    async def stop(self) -> None:
        """Stop receiving (confirming what was stored), let answers in flight finish within
        the grace and leave the rest to the next start, then close."""
        try:
            await self._poller.stop()
            await self._webhook.stop()
            await self._core.inbox.stop(self._settings.telegram_shutdown_grace)
            await self._app.shutdown()
        finally:
            await self._downloader.aclose()

    async def _initialize(self) -> None:
        """Log in (getMe). While Telegram can't be reached, try again with growing pauses:
        the bot starts once it is back (a refused token stops the start at once)."""
        delay = START_RETRY_FIRST
        while True:
            try:
                await self._app.initialize()
            except InvalidToken:
                raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (getMe)") from None
            except NetworkError as error:
                log.warning(
                    "cannot reach the Telegram Bot API; trying again",
                    extra={"reason": str(error), "retry_in": delay},
                )
            except TelegramError as error:
                raise InfrastructureError(f"Telegram refused to start the bot: {error}") from None
            else:
                return
            await self._clock.sleep(delay)
            delay = min(delay * 2, START_RETRY_MOST)

    async def _receive(self, update: Update) -> None:
        envelope = self._handler.envelope(update, self._app.bot)
        if envelope is not None:
            await self._core.inbox.accept(envelope)

    async def _process(self, entry: InboxEntry, journal: Journal) -> None:
        await self._handler.process(entry, journal, self._app.bot)

    async def _register_commands(self) -> None:
        """The command menu, in English (default) and Chinese (language_code "zh")."""
        t = self._core.translator
        try:
            for lang, code in ((Language.EN, None), (Language.ZH, "zh")):
                commands = [BotCommand(name, t(lang, f"menu.{name}")) for name in MENU]
                await self._app.bot.set_my_commands(commands, language_code=code)
        except TelegramError as error:
            log.warning("could not register the command menu", extra={"reason": str(error)})
