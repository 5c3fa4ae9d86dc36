"""OpenRouter over httpx: SSE parsing, reasoning, fallback, rate limiting, usage, errors."""

from core.llm.catalog import CatalogUnavailableError, ModelCatalog
from core.llm.config import OpenRouterConfig, build_http_client
from core.llm.limits import LimitSettings, ModelLimits
from core.llm.openrouter import OpenRouterClient

__all__ = [
    "CatalogUnavailableError",
    "LimitSettings",
    "ModelCatalog",
    "ModelLimits",
    "OpenRouterClient",
    "OpenRouterConfig",
    "build_http_client",
]
