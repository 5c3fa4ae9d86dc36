"""The bot process of ``bench.telegram_e2e``: chatrelay's Telegram adapter and core, wired as
``chatrelay run`` wires them, alone in its process so that its CPU and memory are the bot's.

Started by the benchmark, not by hand. It prints ``ready`` once polling, then answers commands on
stdin, one a line, each with ``ok``: ``profile-start``, ``profile-stop PATH`` (cProfile of the
event loop thread, written as pstats to PATH) and ``stop``. End of stdin also stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys

from bots.telegram.app import TelegramBot
from bots.telegram.settings import TelegramSettings
from core.app import build_core
from core.clock import SystemClock
from core.logs import configure_logging
from core.settings import Settings

TOKEN = "123456:BENCH-token"  # noqa: S105 - the fake's, not a secret


async def commands(profiler: cProfile.Profile) -> None:
    """Serve stdin commands until ``stop`` or end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "profile-start":
            profiler.enable()
        elif command == "profile-stop":
            profiler.disable()
            profiler.dump_stats(argument)
        elif command == "stop":
            print("ok", flush=True)
            return
        print("ok", flush=True)


async def run(args: argparse.Namespace) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        openrouter_api_key=args.api_key,
        openrouter_base_url=args.openrouter,
        openrouter_stream=args.stream,
        database_url=args.database,
        llm_requests_per_minute=0,
        openrouter_first_token_timeout=60.0,
        openrouter_idle_timeout=60.0,
        openrouter_total_timeout=120.0,
        log_level=args.log_level,
    )
    telegram = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,
        telegram_base_url=f"{args.telegram}/bot",
        telegram_drafts=args.drafts,
    )
    clock = SystemClock()
    async with build_core(settings, clock=clock) as core:
        bot = TelegramBot(telegram, core, clock)
        await bot.start()
        try:
            print("ready", flush=True)
            await commands(cProfile.Profile())
        finally:
            await bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--telegram", required=True, help="the fake Bot API's base URL")
    parser.add_argument("--openrouter", required=True, help="the fake OpenRouter's base URL")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--database", required=True, help="a DATABASE_URL")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--drafts", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # as `chatrelay run` does
    configure_logging(args.log_level, "text")  # stderr: the benchmark sends it to a file
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
