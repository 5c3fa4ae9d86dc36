"""A fake Telegram Bot API served over real HTTP (aiohttp) on 127.0.0.1, for tests and benchmarks.

    async with FakeTelegram(token="123456:TEST-token", bot_username="chatrelay_bot") as tg:
        chat = tg.private_chat(42, "Alice")
        bot = telegram.Bot(tg.token, base_url=f"{tg.base_url}/bot",
                           base_file_url=f"{tg.base_url}/file/bot")
        await tg.user_says(chat, chat.user, "hello")      # delivered by getUpdates or webhook
        [reply] = await tg.wait_for_sent(chat, 1)          # what the bot sent, after edits
        assert reply.text == "..." and reply.history == [...]

Strict where Telegram is strict: HTML and MarkdownV2 are parsed as TDLib parses them (same error
descriptions), text lengths are UTF-16 code units after parsing, edits that change nothing,
unknown messages and chats, flood limits (429 with retry_after), overlapping getUpdates (409),
getUpdates while a webhook is set (409), command and secret-token validation. Standalone:

    python -m tests.fakes.telegram --port 8081 [--no-flood-limits]
"""

from .fake import FakeTelegram, main
from .flood import FloodLimits
from .model import (
    ApiError,
    Call,
    Chat,
    ChatAction,
    Draft,
    SentMessage,
    StoredFile,
    Upload,
    User,
    Version,
    WebhookDelivery,
)
from .text import FormattedText, TextError, format_text, parse_html, parse_markdown_v2, u16len

__all__ = [
    "ApiError",
    "Call",
    "Chat",
    "ChatAction",
    "Draft",
    "FakeTelegram",
    "FloodLimits",
    "FormattedText",
    "SentMessage",
    "StoredFile",
    "TextError",
    "Upload",
    "User",
    "Version",
    "WebhookDelivery",
    "format_text",
    "main",
    "parse_html",
    "parse_markdown_v2",
    "u16len",
]
