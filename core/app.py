"""The composition root of the core: builds every piece once and closes them in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import SystemClock
from core.config import ServiceConfig
from core.i18n import Translator
from core.inbox import Inbox, InboxSettings, process_owner
from core.llm.catalog import ModelCatalog
from core.llm.config import OpenRouterConfig, build_http_client
from core.llm.limits import LimitSettings, ModelLimits
from core.llm.openrouter import OpenRouterClient
from core.llm.shared import LimitStore
from core.metrics import Metrics
from core.ordering import LocalChatLocks
from core.ports import Clock, LeaseStore
from core.service import ChatService
from core.settings import Settings, replica
from core.storage.database import database_for
from core.storage.engine import create_engine
from core.storage.inbox import SqlInbox
from core.storage.leases import SqlLeases
from core.storage.limits import SqlLimitStore
from core.storage.migrate import upgrade_to_head
from core.storage.store import SqlChatStore


@dataclass(frozen=True, slots=True)
class Core:
    """Everything an adapter needs, alive between entering and leaving ``build_core``."""

    service: ChatService
    store: SqlChatStore
    llm: OpenRouterClient
    catalog: ModelCatalog
    translator: Translator
    config: ServiceConfig
    engine: AsyncEngine
    http: httpx.AsyncClient
    metrics: Metrics
    inbox: Inbox
    leases: LeaseStore


@asynccontextmanager
async def build_core(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = True
) -> AsyncIterator[Core]:
    """Build the core for one process. Migrates the database first unless told not to."""
    clock = clock or SystemClock()
    if migrate:
        await upgrade_to_head(settings.database_url)
    llm_config = OpenRouterConfig.from_settings(settings)
    engine = create_engine(settings.database_url)
    http = build_http_client(llm_config)
    store: SqlChatStore | None = None
    llm: OpenRouterClient | None = None
    limits: ModelLimits | None = None
    closing = AsyncExitStack()
    try:
        shared = await closing.enter_async_context(limit_store(settings, engine))
        limits = ModelLimits(limit_settings(settings), clock, shared)
        llm = OpenRouterClient(http=http, config=llm_config, limits=limits, clock=clock)
        catalog = ModelCatalog(llm, clock, settings.models_cache_seconds)
        store = SqlChatStore(engine, clock)
        translator = Translator()
        config = ServiceConfig.from_settings(settings)
        metrics = Metrics(replica(settings))
        service = ChatService(
            store=store,
            llm=llm,
            models=catalog,
            serializer=LocalChatLocks(),
            translator=translator,
            clock=clock,
            config=config,
            metrics=metrics,
        )
        inbox = Inbox(
            SqlInbox(store.database, clock),
            clock,
            metrics,
            inbox_settings(settings),
            owner=process_owner(replica(settings)),
        )
        leases = SqlLeases(store.database, clock)
        yield Core(
            service, store, llm, catalog, translator, config, engine, http, metrics, inbox, leases
        )
    finally:
        if llm is not None:
            await llm.aclose()
        if limits is not None:
            await limits.aclose()
        await closing.aclose()
        await http.aclose()
        if store is not None:
            await store.aclose()
        await engine.dispose()


@asynccontextmanager
async def limit_store(settings: Settings, engine: AsyncEngine) -> AsyncIterator[LimitStore | None]:
    """Where the replicas share their limits: Redis when REDIS_URL is set, else PostgreSQL when
    the database is PostgreSQL; None (this process's memory) with SQLite. The Redis client is
    this process's one, closed on leaving."""
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    if redis_url:
        from redis.asyncio import Redis  # imported only by deployments that use it

        from core.llm.redis_limits import RedisLimitStore

        client = Redis.from_url(redis_url)
        try:
            yield RedisLimitStore(client)
        finally:
            await client.aclose()
    elif engine.dialect.name == "postgresql":
        yield SqlLimitStore(database_for(engine))
    else:
        yield None


def limit_settings(settings: Settings) -> LimitSettings:
    return LimitSettings(
        free_requests_per_minute=settings.llm_free_requests_per_minute,
        free_requests_per_day=settings.llm_free_requests_per_day,
        requests_per_minute=settings.llm_requests_per_minute,
        tokens_per_minute=settings.llm_tokens_per_minute,
        model_requests_per_minute=dict(settings.llm_model_requests_per_minute),
        queue_max_seconds=settings.llm_queue_max_seconds,
    )


def inbox_settings(settings: Settings) -> InboxSettings:
    return InboxSettings(
        lease_seconds=settings.inbox_lease_seconds,
        max_concurrent=settings.max_concurrent_messages,
        max_backlog=settings.inbox_max_backlog,
    )
