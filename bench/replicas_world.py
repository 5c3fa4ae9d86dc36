"""The processes and the database of ``bench.replicas``.

A fresh PostgreSQL database per replica count (created next to the server's ``test`` database,
migrated, dropped WITH FORCE afterwards), the fake OpenRouter in its own process, and the
replicas as ``chatrelay run`` processes (webhook mode, each on its own webhook and health port).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.e2e import BenchError
from bench.support import API_KEY, BENCH_MODEL
from core.storage.migrate import upgrade_to_head
from tests.support.databases import postgres_database

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:REPLICAS-bench-token"  # noqa: S105 - the fake's, not a secret
DATABASE_PREFIX = "chatrelay_bench_replicas_"
CONNECT_TIMEOUT = 2.0
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0  # SIGTERM, then SIGKILL (TELEGRAM_SHUTDOWN_GRACE is 8 s)
POLL = 0.1  # seconds between readiness probes
BACKEND = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]")  # a client backend's title


# --------------------------------------------------------------------------- the database


async def postgres_problem(server: URL) -> str | None:
    """None when the server answers and lets us create databases, else why not."""
    engine = create_async_engine(
        server, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT}
    )
    query = "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT * 2), engine.connect() as connection:
            may_create = (await connection.execute(text(query))).scalar()
    except Exception as error:  # refused, auth, timeout, ...: all mean "no server to use"
        return f"{type(error).__name__}: {str(error)[:160]}"
    finally:
        await engine.dispose()
    return None if may_create else "the user may not CREATE DATABASE"


async def max_connections(server: URL) -> int:
    """The server's max_connections: what all replicas' pools share."""
    engine = create_async_engine(server, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SHOW max_connections"))).scalar_one())
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Database:
    name: str
    url: str  # a DATABASE_URL, password included


@contextlib.asynccontextmanager
async def fresh_database(server: URL) -> AsyncIterator[Database]:
    """A new, migrated database on ``server``'s PostgreSQL, dropped (WITH FORCE) at the end."""
    async with postgres_database(server, DATABASE_PREFIX) as url:
        await upgrade_to_head(url)  # as a deployment does: `chatrelay migrate` first
        yield Database(make_url(url).database or "", url)


@dataclass(frozen=True)
class InboxState:
    """Rows of the inbox in one state, and how many of them were claimed more than once."""

    state: str
    rows: int
    reclaimed: int


async def inbox_states(url: str, first_chat: int, last_chat: int) -> list[InboxState]:
    """The inbox rows of chats ``first_chat``..``last_chat``, by state."""
    engine = create_async_engine(url, poolclass=NullPool)
    query = text(
        "SELECT state, count(*), count(*) FILTER (WHERE attempts > 1) FROM inbox "
        "WHERE CAST(chat_id AS BIGINT) BETWEEN :first AND :last GROUP BY state ORDER BY state"
    )
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(query, {"first": first_chat, "last": last_chat})
            return [InboxState(str(s), int(n), int(r)) for s, n, r in rows]
    finally:
        await engine.dispose()


async def sessions_opened(url: str, name: str) -> int:
    """Sessions opened to database ``name`` so far (pg_stat_database, PostgreSQL 14+; -1
    when unknown)."""
    engine = create_async_engine(url, poolclass=NullPool)
    query = text("SELECT sessions FROM pg_stat_database WHERE datname = :name")
    try:
        async with engine.connect() as connection:
            value = (await connection.execute(query, {"name": name})).scalar()
    except Exception:  # an older server has no such column: the figure is left out
        return -1
    finally:
        await engine.dispose()
    return -1 if value is None else int(value)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def fake_openrouter(
    *, first_token_delay: float, chunks: int, chunk_delay: float
) -> AsyncIterator[tuple[str, int]]:
    """tests.fakes.openrouter in its own process: (base URL, pid)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.openrouter", "--api-key", API_KEY,
        "--first-token-delay", str(first_token_delay), "--chunks", str(chunks),
        "--delay", str(chunk_delay), stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        base_url = (await asyncio.wait_for(process.stdout.readline(), 30.0)).decode().strip()
        if not base_url:
            raise BenchError("the fake OpenRouter exited at start")
        yield base_url, process.pid
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@dataclass(frozen=True)
class ReplicaConfig:
    """What every replica shares: where the database, the fakes and the balancer are."""

    database_url: str
    telegram: str  # the fake Bot API's base URL
    webhook_url: str  # the balancer's URL and the webhook's path
    openrouter: str
    stream: bool
    folder: Path  # the replicas' working directory (no .env there) and logs


@dataclass
class Replica:
    """One ``chatrelay run`` process; its log (stdout and stderr) goes to a file."""

    number: int
    process: asyncio.subprocess.Process
    log_path: Path
    webhook_port: int
    health_port: int

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}"

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    def log_tail(self, lines: int = 12) -> str:
        tail = self.log_lines()[-lines:]
        return "\n".join(f"      | {line[:220]}" for line in tail) or "      | (empty)"

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        """Until /readyz answers 200 (database answers, webhook set), or the process exits."""
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while loop.time() < deadline:
            if not self.running:
                raise BenchError(
                    f"replica {self.number} exited (status {self.process.returncode}) at start; "
                    f"its log ends:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=2.0)).status_code == 200:
                    return
            await asyncio.sleep(POLL)
        raise BenchError(
            f"replica {self.number} not ready within {READY_TIMEOUT:.0f} s; its log ends:\n"
            f"{self.log_tail()}"
        )

    async def metric(self, client: httpx.AsyncClient, name: str) -> float | None:
        """The sum of a Prometheus counter's samples on /metrics (None if unreadable)."""
        try:
            page = (await client.get(f"http://127.0.0.1:{self.health_port}/metrics")).text
        except httpx.HTTPError:
            return None
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in page.splitlines()
            if line.startswith((f"{name}{{", f"{name} "))
        ]
        return sum(values)

    async def stop(self) -> None:
        """SIGTERM, as a deploy does; SIGKILL if it has not exited within STOP_TIMEOUT."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            print(f"  (replica {self.number} did not stop within {STOP_TIMEOUT:.0f} s: killed)")
            self.process.kill()
            await self.process.wait()


def replica_env(config: ReplicaConfig, webhook_port: int, health_port: int) -> dict[str, str]:
    """The environment a deployer gives each replica (variable names: core/settings.py and
    bots/telegram/settings.py)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "DATABASE_URL": config.database_url,
        "OPENROUTER_API_KEY": API_KEY,
        "OPENROUTER_BASE_URL": config.openrouter,
        "OPENROUTER_MODELS": BENCH_MODEL,
        "OPENROUTER_STREAM": "true" if config.stream else "false",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{config.telegram}/bot",
        "TELEGRAM_WEBHOOK_URL": config.webhook_url,
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
        "TELEGRAM_WEBHOOK_PORT": str(webhook_port),
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(health_port),
        "LOG_LEVEL": "WARNING",
    }


async def start_replica(config: ReplicaConfig, number: int) -> Replica:
    webhook_port, health_port = free_port(), free_port()
    log_path = config.folder / f"replica-{number}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "run",
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            env=replica_env(config, webhook_port, health_port), cwd=config.folder,
        )  # fmt: skip
    return Replica(number, process, log_path, webhook_port, health_port)


@contextlib.asynccontextmanager
async def running_replicas(config: ReplicaConfig, count: int) -> AsyncIterator[list[Replica]]:
    """``count`` replicas, started together and each ready; stopped together at the end."""
    replicas: list[Replica] = []
    try:
        for number in range(1, count + 1):
            replicas.append(await start_replica(config, number))
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(replica.wait_ready(client) for replica in replicas))
        yield replicas
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
