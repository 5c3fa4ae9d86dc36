"""The operator's HTTP endpoint: ``/healthz`` (the process is alive), ``/readyz`` (the database
answers and every configured platform is connected), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InfrastructureError
from core.metrics import CONTENT_TYPE, Metrics
from core.storage.engine import check_database

log = logging.getLogger("chatrelay.health")


class Platform(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...


@runtime_checkable
class ExplainsReadiness(Protocol):
    """A platform that can say why it is not ready (shown by ``/readyz``)."""

    @property
    def readiness(self) -> str | None:
        """Why the platform is not ready, None when it is."""
        ...


def platform_check(platform: Platform) -> str:
    """``connected``, or ``not connected`` with the reason when the platform gives one."""
    if platform.connected:
        return "connected"
    reason = platform.readiness if isinstance(platform, ExplainsReadiness) else None
    return f"not connected: {reason}" if reason else "not connected"


class HealthServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        metrics: Metrics,
        engine: AsyncEngine,
        platforms: Sequence[Platform],
    ) -> None:
        self._host = host
        self._port = port
        self._metrics = metrics
        self._engine = engine
        self._platforms = platforms
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except OSError as error:
            await self._runner.cleanup()
            raise InfrastructureError(
                f"cannot listen on HEALTH_PORT={self._port} ({error.strerror}); "
                "choose another port, or 0 to turn the endpoint off"
            ) from None
        log.info("health endpoint listening", extra={"port": self._port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        try:
            await check_database(self._engine)
            checks["database"] = "ok"
        except InfrastructureError as error:
            checks["database"] = str(error)
        for platform in self._platforms:
            checks[platform.name] = platform_check(platform)
        ready = all(value in ("ok", "connected") for value in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
