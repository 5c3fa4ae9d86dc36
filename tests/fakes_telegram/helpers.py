"""Shared by the fake-Telegram tests: the token, a PTB Bot pointed at the fake, error texts."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from telegram import Bot
from telegram.ext import Application
from telegram.request import HTTPXRequest

from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-token"
USERNAME = "chatrelay_bot"

AppFactory = Callable[..., AbstractAsyncContextManager[Application[Any, Any, Any, Any, Any, Any]]]


def ptb_message(description: str) -> str:
    """What PTB makes of a Telegram error description (``TelegramError.message``)."""
    stripped = description.removeprefix("Bad Request: ")
    return stripped.capitalize() if stripped != description else description


# Every HTTPXRequest would load the CA bundle again (~80 ms); plain-HTTP tests share one context.
_TLS = ssl.create_default_context()


def request() -> HTTPXRequest:
    return HTTPXRequest(httpx_kwargs={"verify": _TLS})


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        base_url=f"{tg.base_url}/bot",
        base_file_url=f"{tg.base_url}/file/bot",
        request=request(),
        get_updates_request=request(),
    )
