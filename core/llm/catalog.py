"""A cached copy of OpenRouter's model list, for validation, suggestions and context sizes.

The list is fetched on first use and again once it is older than ``ttl_seconds``. Callers that
arrive during a fetch wait for that one fetch instead of starting their own. A failed refresh
keeps serving the old list (and is retried after ``min(ttl, 60 s)``); only when no list was ever
loaded does ``get`` raise CatalogUnavailableError.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Sequence

from core.domain import ModelInfo
from core.errors import LLMError, UpstreamUnavailableError
from core.ports import Clock, LLMClient

logger = logging.getLogger("chatrelay.llm")

FAILED_REFRESH_RETRY_SECONDS = 60.0


class CatalogUnavailableError(UpstreamUnavailableError):
    """The model list could not be loaded and no earlier copy exists."""


class ModelCatalog:
    def __init__(self, client: LLMClient, clock: Clock, ttl_seconds: float) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl_seconds
        self._lock = asyncio.Lock()
        self._models: tuple[ModelInfo, ...] | None = None
        self._by_id: dict[str, ModelInfo] = {}
        self._valid_until = float("-inf")
        self._fetches = 0
        self._last_error: LLMError | None = None

    async def get(self) -> Sequence[ModelInfo]:
        if self._models is not None and self._clock.monotonic() < self._valid_until:
            return self._models
        fetches_seen = self._fetches
        async with self._lock:
            if self._fetches == fetches_seen:  # no fetch finished while this caller waited
                await self._refresh()
        if self._models is None:
            raise CatalogUnavailableError(
                "the model list could not be loaded",
                status=self._last_error.status if self._last_error else None,
            ) from self._last_error
        return self._models

    async def find(self, model_id: str) -> ModelInfo | None:
        await self.get()
        return self._by_id.get(model_id)

    async def context_length(self, model_id: str) -> int | None:
        model = await self.find(model_id)
        return model.context_length if model is not None and model.context_length else None

    async def close_matches(self, model_id: str, n: int = 5) -> list[str]:
        """Known ids that look like ``model_id``: ids containing it first, then similar ids."""
        ids = [model.id for model in await self.get()]
        wanted = model_id.strip().lower()
        if not wanted or n <= 0:
            return []
        lowered = {model.lower(): model for model in ids}
        containing = sorted(
            (model for model in ids if wanted in model.lower()),
            key=lambda model: (
                -difflib.SequenceMatcher(None, wanted, model.lower()).ratio(),
                model,
            ),
        )
        similar = difflib.get_close_matches(wanted, list(lowered), n=n, cutoff=0.5)
        matches = list(dict.fromkeys([*containing, *(lowered[model] for model in similar)]))
        return matches[:n]

    async def _refresh(self) -> None:
        try:
            models = tuple(await self._client.list_models())
        except LLMError as error:
            self._fetches += 1
            self._last_error = error
            retry_in = min(self._ttl, FAILED_REFRESH_RETRY_SECONDS)
            if self._models is not None:
                self._valid_until = self._clock.monotonic() + retry_in
            logger.warning(
                "model list refresh failed",
                extra={
                    "status": error.status,
                    "error_kind": error.kind.value,
                    "stale": self._models is not None,
                },
            )
            return
        self._fetches += 1
        self._models = models
        self._by_id = {model.id: model for model in models}
        self._valid_until = self._clock.monotonic() + self._ttl
        self._last_error = None
