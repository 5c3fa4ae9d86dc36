"""`chatrelay chat`: one terminal conversation. Each input line is one message."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from typing import TextIO

from bots.console.sink import ConsoleSink
from core.domain import Author, ChatRef, IncomingMessage
from core.service import ChatService

PLATFORM = "console"


def terminal_language() -> str | None:
    """The user's language from the usual locale variables (``zh_CN.UTF-8`` -> ``zh_CN``)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX"):
            return value.split(".", 1)[0]
    return None


class LineReader:
    """Reads lines on a daemon thread so a blocked read never holds up the event loop or exit."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._pump, name="stdin-reader", daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self._stream:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line.rstrip("\n"))
        finally:  # end of input, a closed stream or a read error all end the session
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def next_line(self) -> str | None:
        """The next line, or None at end of input."""
        return await self._queue.get()


class ConsoleSession:
    def __init__(
        self,
        *,
        service: ChatService,
        chat_name: str,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
        user: str,
    ) -> None:
        self._service = service
        self._chat = ChatRef(PLATFORM, chat_name)
        self._stdin = stdin
        self._stdout = stdout
        self._interactive = interactive
        self._author = Author(id=user, name=user, language_code=terminal_language())

    async def run(self, welcome: str | None = None) -> None:
        reader = LineReader(self._stdin)
        if welcome and self._interactive:
            self._stdout.write(welcome + "\n")
        while True:
            self._prompt()
            line = await reader.next_line()
            if line is None:
                break
            if not line.strip():
                continue
            await self._service.handle(self._message(line), self._sink())
        if self._interactive:
            self._stdout.write("\n")

    def _message(self, text: str) -> IncomingMessage:
        return IncomingMessage(
            chat=self._chat, author=self._author, text=text, message_id=uuid.uuid4().hex
        )

    def _sink(self) -> ConsoleSink:
        return ConsoleSink(self._stdout, interactive=self._interactive)

    def _prompt(self) -> None:
        if self._interactive:
            self._stdout.write("> ")
            self._stdout.flush()
