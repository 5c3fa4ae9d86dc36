"""The bot process of ``bench.discord_e2e``: chatrelay's Discord adapter and core, wired as
``chatrelay run`` wires them, alone in its process so that its CPU and memory are the bot's.

Started by the benchmark, not by hand. It prints ``ready`` once connected to the (fake) gateway
and ready, then answers commands on stdin, one a line, each with ``ok``: ``profile-start``,
``profile-stop PATH`` (cProfile of the event loop thread, written as pstats to PATH) and
``stop``. End of stdin also stops it.
"""

from __future__ import annotations

import argparse
import warnings

with warnings.catch_warnings():  # discord.py imports the deprecated stdlib audioop (voice)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from bench.e2e import bot_main, core_settings, serve_bot
from bots.discord.app import DiscordBot
from bots.discord.settings import DiscordSettings

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.bench.discord-bot-token"  # noqa: S105 - the fake's


def add_platform(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", required=True, help="the fake Discord's REST base (.../api/v10)")
    parser.add_argument("--gateway", required=True, help="the fake Discord's gateway URL")


def add_tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edit-interval", type=float, default=1.0, help="DISCORD_EDIT_INTERVAL")


async def serve(args: argparse.Namespace) -> None:
    discord_settings = DiscordSettings(
        _env_file=None,
        discord_bot_token=TOKEN,
        discord_api_base_url=args.api,
        discord_gateway_url=args.gateway,
        discord_edit_interval=args.edit_interval,
    )
    await serve_bot(
        core_settings(args, stream=True),
        lambda core, clock: DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01),
    )


def main() -> None:
    bot_main(__doc__, add_platform, add_tuning, serve)


if __name__ == "__main__":
    main()
