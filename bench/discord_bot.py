"""The bot process of ``bench.discord_e2e``: chatrelay's Discord adapter and core, wired as
``chatrelay run`` wires them, alone in its process so that its CPU and memory are the bot's.

Started by the benchmark, not by hand. It prints ``ready`` once connected to the (fake) gateway
and ready, then answers commands on stdin, one a line, each with ``ok``: ``profile-start``,
``profile-stop PATH`` (cProfile of the event loop thread, written as pstats to PATH) and
``stop``. End of stdin also stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import warnings

with warnings.catch_warnings():  # discord.py imports the deprecated stdlib audioop (voice)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from bench.telegram_bot import commands
from bots.discord.app import DiscordBot
from bots.discord.settings import DiscordSettings
from core.app import build_core
from core.clock import SystemClock
from core.logs import configure_logging
from core.settings import Settings

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.bench.discord-bot-token"  # noqa: S105 - the fake's


async def run(args: argparse.Namespace) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        openrouter_api_key=args.api_key,
        openrouter_base_url=args.openrouter,
        openrouter_stream=True,
        database_url=args.database,
        llm_requests_per_minute=0,
        openrouter_first_token_timeout=60.0,
        openrouter_idle_timeout=60.0,
        openrouter_total_timeout=120.0,
        log_level=args.log_level,
    )
    discord_settings = DiscordSettings(
        _env_file=None,  # type: ignore[call-arg]
        discord_bot_token=TOKEN,
        discord_api_base_url=args.api,
        discord_gateway_url=args.gateway,
        discord_edit_interval=args.edit_interval,
    )
    clock = SystemClock()
    async with build_core(settings, clock=clock) as core:
        bot = DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01)
        await bot.start()
        try:
            print("ready", flush=True)
            await commands(cProfile.Profile())
        finally:
            await bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", required=True, help="the fake Discord's REST base (.../api/v10)")
    parser.add_argument("--gateway", required=True, help="the fake Discord's gateway URL")
    parser.add_argument("--openrouter", required=True, help="the fake OpenRouter's base URL")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--database", required=True, help="a DATABASE_URL")
    parser.add_argument("--edit-interval", type=float, default=1.0, help="DISCORD_EDIT_INTERVAL")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging(args.log_level, "text")  # stderr: the benchmark sends it to a file
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
