"""The health endpoint on a real socket: alive, ready or not ready (and why), metrics."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bots.health import HealthServer
from core.errors import InfrastructureError
from core.metrics import Metrics
from core.storage.engine import create_engine


@dataclass
class Platform:
    name: str
    connected: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_readiness_names_what_is_not_ready(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    telegram, discord = Platform("telegram", True), Platform("discord", False)
    metrics = Metrics()
    metrics.message_received("discord")
    port = free_port()
    server = HealthServer(
        host="127.0.0.1", port=port, metrics=metrics, engine=engine, platforms=[telegram, discord]
    )
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            alive = await client.get("/healthz")
            not_ready = await client.get("/readyz")
            discord.connected = True
            ready = await client.get("/readyz")
            page = await client.get("/metrics")
    finally:
        await server.stop()
        await engine.dispose()
    assert alive.status_code == 200
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["discord"] == "not connected"
    assert ready.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert 'chatrelay_messages_received_total{platform="discord"} 1.0' in page.text


async def test_a_busy_port_is_a_clear_start_up_error(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer(
            host="127.0.0.1", port=port, metrics=Metrics(), engine=engine, platforms=[]
        )
        with pytest.raises(InfrastructureError, match="HEALTH_PORT"):
            await server.start()
    await engine.dispose()
