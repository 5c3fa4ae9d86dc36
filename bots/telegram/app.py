"""The Telegram adapter's lifecycle: build python-telegram-bot's Application, register the command
menu, receive updates by long polling or webhook, and stop cleanly."""

from __future__ import annotations

import asyncio
import functools
import logging

from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bots.download import Downloader
from bots.refusals import RecentRefusals
from bots.retry import DeliveryRetry
from bots.telegram.handler import StreamingOptions, TelegramHandler, describe
from bots.telegram.render import Renderer
from bots.telegram.settings import TelegramSettings
from bots.telegram.transport import AiohttpRequest, Outcomes
from bots.telegram.updates import ChatOrderedProcessor, SplitMessages
from core.access import TELEGRAM, AccessPolicy
from core.app import Core
from core.commands import COMMAND_NAMES
from core.domain import Language
from core.errors import ConfigError, InfrastructureError
from core.ports import Clock

log = logging.getLogger("chatrelay.telegram")

# Updates worked on at once (the rest wait their turn, costing little memory); more would only
# queue on the LLM's connections.
MAX_CONCURRENT_UPDATES = 256
MENU = tuple(name for name in COMMAND_NAMES if name != "start")
ALLOWED_UPDATES = [Update.MESSAGE]


def build_application(
    settings: TelegramSettings, splits: SplitMessages, polling: Outcomes
) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .concurrent_updates(ChatOrderedProcessor(MAX_CONCURRENT_UPDATES, splits))
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
        splits = SplitMessages(settings.telegram_merge_window)
        self._polling = Outcomes()
        self._app = build_application(settings, splits, self._polling)
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
            ),
            refusals=RecentRefusals(clock),
            downloader=self._downloader,
            max_image_bytes=core.config.max_image_bytes,
            delivery=DeliveryRetry(
                seconds=settings.telegram_delivery_retry_seconds,
                failed=functools.partial(core.metrics.delivery_failed, TELEGRAM),
            ),
        )
        self._app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._handler))
        self._app.add_error_handler(self._on_error)

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
        updater = self._app.updater
        if not (self._app.running and updater is not None and updater.running):
            return "not receiving updates"
        if self._polling.failure is not None:
            return f"getUpdates is failing ({self._polling.failure})"
        return None

    @property
    def username(self) -> str:
        return str(self._app.bot.username)

    async def start(self) -> None:
        try:
            await self._app.initialize()
        except InvalidToken:
            raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (getMe)") from None
        except TelegramError as error:
            raise InfrastructureError(f"cannot reach the Telegram Bot API: {error}") from None
        await self._register_commands()
        self._downloader.open()
        await self._app.start()
        updater = self._app.updater
        if updater is None:
            raise RuntimeError("the Application was built without an Updater")
        webhook_url = self._settings.telegram_webhook_url
        if webhook_url:
            await updater.start_webhook(
                listen=self._settings.telegram_webhook_listen,
                port=self._settings.telegram_webhook_port,
                url_path=self._settings.webhook_path,
                webhook_url=webhook_url,
                secret_token=self._settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info(
                "telegram webhook listening", extra={"port": self._settings.telegram_webhook_port}
            )
        else:
            await updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=30)
            log.info("telegram long polling", extra={"bot": self.username})

    async def stop(self) -> None:
        """Stop receiving, let answers in flight finish (bounded), confirm the polling offset."""
        try:
            updater = self._app.updater
            if updater is not None and updater.running:
                await updater.stop()
            if self._app.running:
                try:
                    await asyncio.wait_for(self._app.stop(), self._settings.telegram_shutdown_grace)
                except TimeoutError:
                    log.warning("answers still in flight at shutdown were cut short")
            await self._app.shutdown()
        finally:
            await self._downloader.aclose()

    async def _register_commands(self) -> None:
        """The command menu, in English (default) and Chinese (language_code "zh")."""
        t = self._core.translator
        try:
            for lang, code in ((Language.EN, None), (Language.ZH, "zh")):
                commands = [BotCommand(name, t(lang, f"menu.{name}")) for name in MENU]
                await self._app.bot.set_my_commands(commands, language_code=code)
        except TelegramError as error:
            log.warning("could not register the command menu", extra={"reason": str(error)})

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error, extra=describe(update))
