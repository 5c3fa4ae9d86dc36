"""OpenRouter over httpx: SSE parsing, reasoning, fallback, rate limiting, usage, errors."""

from core.llm.catalog import CatalogUnavailableError, ModelCatalog
from core.llm.config import OpenRouterConfig, build_http_client
from core.llm.limiter import RequestLimiter
from core.llm.openrouter import OpenRouterClient

__all__ = [
    "CatalogUnavailableError",
    "ModelCatalog",
    "OpenRouterClient",
    "OpenRouterConfig",
    "RequestLimiter",
    "build_http_client",
]
