"""`chatrelay chat` on a terminal: a welcome line, a prompt, the answer streamed in, Ctrl-D."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.openrouter import Answer, FakeOpenRouter


@dataclass
class Terminal:
    """The controlling side of a pty running `chatrelay chat`."""

    fd: int
    process: asyncio.subprocess.Process
    seen: bytearray = field(default_factory=bytearray)

    async def read_until(self, marker: bytes, start: int = 0) -> int:
        """Read until ``marker`` shows up after ``start``; return where it ends."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(30):
            while (found := self.seen.find(marker, start)) < 0:
                chunk = await loop.run_in_executor(None, os.read, self.fd, 4096)
                if not chunk:
                    raise EOFError(bytes(self.seen))
                self.seen.extend(chunk)
        return found + len(marker)

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    async def end_with_ctrl_d(self) -> int:
        self.type(b"\x04")
        async with asyncio.timeout(30):
            return await self.process.wait()


@asynccontextmanager
async def terminal(env: dict[str, str], cwd: Path) -> AsyncIterator[Terminal]:
    controller, child = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bots.cli", "chat"),
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=cwd,
    )
    os.close(child)
    try:
        yield Terminal(controller, process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(controller)


async def test_a_terminal_session_streams_the_answer(
    env: dict[str, str], fake: FakeOpenRouter, tmp_path: Path
) -> None:
    fake.enqueue(Answer(content=["Bonjour", ", ", "le ", "monde", "!"], chunk_delay=0.05))
    async with terminal(env, tmp_path) as tty:
        await tty.read_until(b"> ")
        assert b"Type /help for commands" in tty.seen
        tty.type(b"say hello in French\n")
        answered = await tty.read_until(b"Bonjour, le monde!")
        await tty.read_until(b"> ", answered)  # the next prompt
        assert await tty.end_with_ctrl_d() == 0
    request = fake.chat_requests[-1].body
    assert request["stream"] is True
    assert request["messages"][-1]["content"] == "say hello in French"


async def test_the_welcome_speaks_the_terminal_language(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["LANG"] = "zh_CN.UTF-8"
    async with terminal(env, tmp_path) as tty:
        await tty.read_until(b"> ")
        assert "输入 /help 查看命令".encode() in tty.seen
        assert await tty.end_with_ctrl_d() == 0
