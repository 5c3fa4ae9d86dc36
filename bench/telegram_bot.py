"""The bot process of ``bench.telegram_e2e``: chatrelay's Telegram adapter and core, wired as
``chatrelay run`` wires them, alone in its process so that its CPU and memory are the bot's.

Started by the benchmark, not by hand. It prints ``ready`` once polling, then answers commands on
stdin, one a line, each with ``ok``: ``profile-start``, ``profile-stop PATH`` (cProfile of the
event loop thread, written as pstats to PATH) and ``stop``. End of stdin also stops it.
"""

from __future__ import annotations

import argparse
import os

from bench.e2e import bot_main, core_settings, serve_bot
from bots.telegram.app import TelegramBot
from bots.telegram.settings import TelegramSettings

TOKEN = "123456:BENCH-token"  # noqa: S105 - the fake's, not a secret


def add_platform(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--telegram", required=True, help="the fake Bot API's base URL")


def add_tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--drafts", action=argparse.BooleanOptionalAction, default=True)


async def serve(args: argparse.Namespace) -> None:
    telegram = TelegramSettings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_base_url=f"{args.telegram}/bot",
        telegram_drafts=args.drafts,
    )
    await serve_bot(
        core_settings(args, stream=args.stream),
        lambda core, clock: TelegramBot(telegram, core, clock),
    )


def main() -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # as `chatrelay run` does
    bot_main(__doc__, add_platform, add_tuning, serve)


if __name__ == "__main__":
    main()
