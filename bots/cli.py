"""`chatrelay`: the command line and the composition root of each process."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bots.console.session import ConsoleSession, terminal_language
from bots.discord.settings import load_discord_settings
from bots.health import HealthServer, Platform
from bots.telegram.settings import TelegramSettings, load_telegram_settings
from core.app import build_core
from core.clock import SystemClock
from core.domain import Language
from core.errors import ConfigError, InfrastructureError
from core.logs import (
    MIN_SECRET_LENGTH,
    SecretMask,
    configure_logging,
    log_uncaught_exceptions,
    redact,
)
from core.settings import Settings, load_settings
from core.storage.migrate import upgrade_to_head

log = logging.getLogger("chatrelay.cli")

NO_PLATFORM = (
    "No chat platform is configured: set TELEGRAM_BOT_TOKEN (from @BotFather) and/or "
    "DISCORD_BOT_TOKEN (Discord Developer Portal) in .env or the environment.\n"
    "Or talk to the bot in this terminal:  chatrelay chat"
)


def package_version() -> str:
    try:
        return version("chatrelay")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatrelay",
        description="Any OpenRouter model as a chat bot. Settings come from the environment "
        "and .env (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"chatrelay {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chat = commands.add_parser(
        "chat",
        help="talk to the bot in this terminal (lines piped on stdin are messages)",
        description="Talk to the bot in this terminal. Interactive on a TTY (answers stream in); "
        "with stdin piped, every line is a message and each answer is printed when complete.",
    )
    chat.add_argument("--chat", default="default", help="conversation name (default: default)")
    chat.add_argument("--verbose", action="store_true", help="show INFO logs on stderr")
    commands.add_parser(
        "run",
        help="start every chat platform whose token is configured (Telegram, Discord)",
        description="Run the bot on Telegram (TELEGRAM_BOT_TOKEN; long polling, or a webhook "
        "when TELEGRAM_WEBHOOK_URL is set) and on Discord (DISCORD_BOT_TOKEN), in one process, "
        "until SIGTERM or Ctrl-C. Migrates the database first.",
    )
    commands.add_parser("migrate", help="bring the database schema up to date and exit")
    return parser


async def run_chat(settings: Settings, chat_name: str) -> None:
    settings.require_api_key()
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    async with build_core(settings) as core:
        session = ConsoleSession(
            service=core.service,
            chat_name=chat_name,
            stdin=sys.stdin,
            stdout=sys.stdout,
            interactive=interactive,
            user=getpass.getuser(),
        )
        lang = Language.from_code(terminal_language()) or core.config.default_language
        chain = core.config.models
        await session.run(core.translator(lang, "console.welcome", chat=chat_name, model=chain[0]))


async def run_platforms(settings: Settings) -> int:
    telegram = load_telegram_settings()
    discord = load_discord_settings()
    if not telegram.enabled and not discord.enabled:
        print(NO_PLATFORM, file=sys.stderr)
        return 2
    settings.require_api_key()
    redact(*(s.token for s in (telegram, discord) if s.enabled))
    if telegram.enabled:
        redact(telegram.webhook_secret)
    clock = SystemClock()
    with stop_signals() as stop:  # from here on SIGTERM stops cleanly, even during start-up
        async with build_core(settings, clock=clock) as core, AsyncExitStack() as running:
            platforms: list[Platform] = []
            if settings.health_port:
                health = HealthServer(
                    host=settings.health_host,
                    port=settings.health_port,
                    metrics=core.metrics,
                    engine=core.engine,
                    platforms=platforms,
                )
                await health.start()
                running.push_async_callback(health.stop)
            bots: list[Bot] = []
            # On the way out every platform stops at once, each letting its answers in flight
            # finish within its grace period: a container stops within ten seconds.
            running.push_async_callback(stop_all, bots)
            # Each adapter is imported only when configured: its library costs memory.
            if telegram.enabled:
                from bots.telegram.app import TelegramBot

                bots.append(TelegramBot(telegram, core, clock))
            if discord.enabled:
                from bots.discord.app import DiscordBot

                bots.append(DiscordBot(discord, core, clock))
            for bot in bots:
                if not await started_unless_stopped(bot, stop):
                    break  # stopped while a platform was still starting (e.g. unreachable)
                platforms.append(bot)
            await stop.wait()
            log.info("stopping")
    return 0


class Bot(Platform, Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def started_unless_stopped(bot: Bot, stop: asyncio.Event) -> bool:
    """Start ``bot``; False when a stop signal came first (the start is abandoned)."""
    starting = asyncio.create_task(bot.start(), name=f"start {bot.name}")
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if starting.done():
        await starting  # its failure, if any, is the caller's
        return True
    starting.cancel()
    await asyncio.gather(starting, return_exceptions=True)
    return False


async def stop_all(bots: Sequence[Bot]) -> None:
    results = await asyncio.gather(*(bot.stop() for bot in bots), return_exceptions=True)
    for bot, result in zip(bots, results, strict=True):
        if isinstance(result, BaseException):
            log.error("%s did not stop cleanly", bot.name, exc_info=result)


@contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def prepare_streams() -> None:
    """Never crash on text the terminal can't encode, or on input that isn't valid UTF-8."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


class ConfiguredSecrets(BaseSettings):
    """The secrets no log line may show, read from the environment and .env as the settings
    classes read them, but never refused: every command masks all of them from its first line,
    whatever it uses and whichever other setting is wrong."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    openrouter_api_key: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    discord_bot_token: SecretStr | None = None
    database_url: str = ""

    def values(self) -> list[str]:
        keys = (self.openrouter_api_key, self.discord_bot_token, self.telegram_webhook_secret)
        found = [key.get_secret_value() for key in keys if key is not None]
        if self.telegram_bot_token is not None:
            token = self.telegram_bot_token.get_secret_value()
            # The webhook secret the bot derives from the token when none is configured.
            derived = TelegramSettings.model_construct(telegram_bot_token=self.telegram_bot_token)
            found += [token, derived.webhook_secret]
        found.append(urlsplit(self.database_url).password or "")
        return [value for value in found if value]

    def too_short_to_mask(self) -> list[str]:
        """The variables whose secret is too short to be masked without mangling the logs."""
        named = {
            "OPENROUTER_API_KEY": self.openrouter_api_key,
            "TELEGRAM_BOT_TOKEN": self.telegram_bot_token,
            "TELEGRAM_WEBHOOK_SECRET": self.telegram_webhook_secret,
            "DISCORD_BOT_TOKEN": self.discord_bot_token,
        }
        return [
            name
            for name, value in named.items()
            if value is not None and 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH
        ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # python-telegram-bot: opt in to v23's timedelta RetryAfter now, or every flood-control 429
    # logs a deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    prepare_streams()
    secrets = ConfiguredSecrets()
    mask = SecretMask(secrets.values())
    try:
        settings = load_settings()
        level = settings.log_level
        if args.command == "chat" and not args.verbose and level == "INFO":
            level = "WARNING"
        configure_logging(level, settings.log_format, mask=mask)
        log_uncaught_exceptions(log)
        for name in secrets.too_short_to_mask():
            log.warning("%s is too short to be masked in the logs; use a longer one", name)
        if args.command == "migrate":
            asyncio.run(upgrade_to_head(settings.database_url))
            print("database is up to date", file=sys.stderr)
            return 0
        if args.command == "chat":
            asyncio.run(run_chat(settings, args.chat))
            return 0
        return asyncio.run(run_platforms(settings))
    except ConfigError as error:
        print(f"chatrelay: {mask(str(error))}", file=sys.stderr)
        return 2
    except InfrastructureError as error:
        print(f"chatrelay: {mask(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
