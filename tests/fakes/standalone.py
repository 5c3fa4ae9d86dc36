"""Running a fake as its own process: print where it listens, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import AbstractAsyncContextManager
from typing import Any


async def serve_until_signalled(fake: AbstractAsyncContextManager[Any], *announce: Any) -> None:
    """Start ``fake``; print each of ``announce`` (callables of the started fake, giving the
    URLs callers read, one per line); stop cleanly on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with fake as started:
        for line in announce:
            print(line(started), flush=True)
        await stop.wait()
