"""Running a real discord.py client against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import discord

from tests.fakes.discord import FakeDiscord

C = TypeVar("C", bound=discord.Client)


def intents(*, message_content: bool = True) -> discord.Intents:
    wanted = discord.Intents.default()
    wanted.message_content = message_content
    return wanted


def make_client(**options: Any) -> discord.Client:
    options.setdefault("intents", intents())
    options.setdefault("guild_ready_timeout", 0.01)
    return discord.Client(**options)


@asynccontextmanager
async def running(fake: FakeDiscord, client: C, timeout: float = 5.0) -> AsyncIterator[C]:  # noqa: ASYNC109
    """Start ``client`` against ``fake``, wait for ``on_ready``; close it afterwards."""
    with fake.patch_discord():
        task = asyncio.create_task(client.start(fake.token))
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {task, ready}, timeout=timeout, return_when="FIRST_COMPLETED"
            )
            if task in done:
                task.result()  # raises what start() raised
                raise RuntimeError("client.start() returned before on_ready")
            if ready not in done:
                raise TimeoutError("on_ready did not fire")
            yield client
        finally:
            ready.cancel()
            await client.close()
            await asyncio.wait_for(task, timeout)
