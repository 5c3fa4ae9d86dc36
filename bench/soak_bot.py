"""The bot process of ``bench.soak``: ``python -m bots.cli run`` configured by environment
variables, started, SIGKILLed and started again on the same database, as a supervisor
(systemd, Docker's restart policy) would: a start that fails (the process exits before it is
ready) is retried after a pause."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e import BenchError
from bench.support import process_peak_rss_mb, process_rss_mb

ReadyCheck = Callable[[], Callable[[], bool]]  # made before a start: "is this start ready?"
READY_TIMEOUT = 60.0
START_ATTEMPTS = 5
RETRY_PAUSE = 2.0
STOP_TIMEOUT = 25.0  # each platform has 8 s of shutdown grace


@dataclass(frozen=True)
class Down:
    """The bot was not serving from ``start`` to ``end`` (monotonic seconds)."""

    start: float
    end: float


@dataclass
class BotSupervisor:
    env: dict[str, str]
    cwd: Path
    log_path: Path
    ready_check: ReadyCheck
    process: asyncio.subprocess.Process | None = None
    starts: list[float] = field(default_factory=list)  # seconds each start took to be ready
    failed_starts: int = 0
    kills: int = 0
    down: list[Down] = field(default_factory=list)

    async def start(self) -> None:
        """Start the bot and wait until it serves both platforms; retry a start that exits."""
        began = time.monotonic()
        for _ in range(START_ATTEMPTS):
            ready = self.ready_check()
            await self._spawn()
            if await self._until_ready(ready):
                self.starts.append(time.monotonic() - began)
                return
            self.failed_starts += 1
            await asyncio.sleep(RETRY_PAUSE)
        raise BenchError(f"the bot did not start in {START_ATTEMPTS} attempts\n{self.log_tail()}")

    async def _spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots.cli", "run",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.cwd, env=self.env,
            )  # fmt: skip

    async def _until_ready(self, ready: Callable[[], bool]) -> bool:
        """True once ``ready()``; False when the process exits first."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready():
            if self.process.returncode is not None:
                return False
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the bot was not ready within {READY_TIMEOUT:.0f} s\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)
        return True

    async def kill_and_restart(self, pause: float) -> None:
        """SIGKILL, wait ``pause`` seconds, start again on the same database."""
        assert self.process is not None
        killed = time.monotonic()
        self.process.kill()
        await self.process.wait()
        self.kills += 1
        await asyncio.sleep(pause)
        await self.start()
        self.down.append(Down(killed, time.monotonic()))

    def down_at(self, at: float) -> bool:
        return any(d.start <= at <= d.end for d in self.down)

    def killed_during(self, start: float, end: float) -> bool:
        return any(start < d.start <= end for d in self.down)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def rss_mb(self) -> float:
        """VmRSS of the bot process now (0 when none runs)."""
        if not self.alive:
            return 0.0
        assert self.process is not None
        with contextlib.suppress(OSError, RuntimeError):
            return process_rss_mb(self.process.pid)
        return 0.0

    def peak_rss_mb(self) -> float:
        """VmHWM of the bot process running now (0 when none runs)."""
        if not self.alive:
            return 0.0
        assert self.process is not None
        with contextlib.suppress(OSError, RuntimeError):
            return process_peak_rss_mb(self.process.pid)
        return 0.0

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT``; the exit status (None: none ran)."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        return process.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "    | (no log)"
        return "\n".join(f"    | {line}" for line in text[-lines:]) or "    | (empty)"

    def log_counts(self) -> tuple[int, int, int]:
        """Lines in the bot's log: all, with ERROR, starting a traceback."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0, 0, 0
        errors = sum(1 for line in text if "ERROR" in line)
        tracebacks = sum(1 for line in text if line.startswith("Traceback"))
        return len(text), errors, tracebacks


def bot_env(
    *, openrouter: str, api_key: str, model: str, database: str, telegram: dict[str, str],
    discord: dict[str, str],
) -> dict[str, str]:  # fmt: skip
    """The environment of ``chatrelay run``: default settings but for the URLs, the tokens,
    the database and the model. The process runs in a temp dir: no ``.env`` is read."""
    keep = {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT", "PYTHONPATH")
    }
    return {
        **keep,
        "OPENROUTER_API_KEY": api_key,
        "OPENROUTER_BASE_URL": openrouter,
        "OPENROUTER_MODELS": model,
        "DATABASE_URL": database,
        "HEALTH_PORT": "0",
        "LANG": "en_US.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        **telegram,
        **discord,
    }
