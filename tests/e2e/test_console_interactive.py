"""`chatrelay chat` on a terminal: a welcome line, a prompt, the answer streamed in, Ctrl-D."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from pathlib import Path

from tests.fakes.openrouter import Answer, FakeOpenRouter


async def read_until(fd: int, marker: bytes, seen: bytearray, start: int = 0) -> int:
    """Read the terminal until ``marker`` shows up after ``start``; return where it ends."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(30):
        while (found := seen.find(marker, start)) < 0:
            chunk = await loop.run_in_executor(None, os.read, fd, 4096)
            if not chunk:
                raise EOFError(bytes(seen))
            seen.extend(chunk)
    return found + len(marker)


async def test_a_terminal_session_streams_the_answer(
    env: dict[str, str], fake: FakeOpenRouter, tmp_path: Path
) -> None:
    fake.enqueue(Answer(content=["Bonjour", ", ", "le ", "monde", "!"], chunk_delay=0.05))
    controller, terminal = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "chat",
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=tmp_path,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        await read_until(controller, b"> ", seen)
        assert b"Type /help for commands" in seen
        os.write(controller, b"say hello in French\n")
        answered = await read_until(controller, b"Bonjour, le monde!", seen)
        await read_until(controller, b"> ", seen, answered)  # the next prompt
        os.write(controller, b"\x04")  # Ctrl-D ends the session
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(controller)
    request = fake.chat_requests[-1].body
    assert request["stream"] is True
    assert request["messages"][-1]["content"] == "say hello in French"
