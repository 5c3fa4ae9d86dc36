"""Deployment settings, read once in the composition root from the environment and `.env`."""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.domain import Language
from core.errors import ConfigError

DEFAULT_MODELS = (
    "tencent/hy3-preview:free",
    "deepseek/deepseek-v4-flash:free",
    "openrouter/free",
)
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/chatrelay.db"
S = TypeVar("S", bound=BaseSettings)
ReasoningEffort = Literal["max", "xhigh", "high", "medium", "low", "minimal", "none"]


class Settings(BaseSettings):
    """Every variable is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_models: Annotated[tuple[str, ...], NoDecode] = DEFAULT_MODELS
    openrouter_stream: bool = True
    openrouter_reasoning: bool = True
    openrouter_reasoning_effort: ReasoningEffort | None = None
    openrouter_reasoning_exclude: bool = False
    openrouter_connect_timeout: float = Field(default=10.0, gt=0)
    openrouter_first_token_timeout: float = Field(default=120.0, gt=0)
    openrouter_idle_timeout: float = Field(default=60.0, gt=0)
    openrouter_total_timeout: float = Field(default=600.0, gt=0)
    openrouter_max_attempts: int = Field(default=4, ge=1, le=20)
    openrouter_max_retry_wait: float = Field(default=30.0, ge=0)
    openrouter_app_url: str = "https://github.com/chatrelay/chatrelay"
    openrouter_app_title: str = "chatrelay"
    models_cache_seconds: float = Field(default=3600.0, gt=0)

    llm_free_requests_per_minute: int = Field(default=20, ge=0)
    llm_free_requests_per_day: int | None = Field(default=None, ge=0)
    llm_requests_per_minute: int = Field(default=0, ge=0)
    llm_tokens_per_minute: int = Field(default=0, ge=0)
    llm_model_requests_per_minute: Annotated[tuple[tuple[str, int], ...], NoDecode] = ()
    llm_queue_notice_seconds: float = Field(default=3.0, ge=0)
    llm_queue_max_seconds: float = Field(default=120.0, gt=0)
    max_concurrent_messages: int = Field(default=256, ge=1)
    inbox_max_backlog: int = Field(default=2000, ge=1)
    inbox_lease_seconds: float = Field(default=30.0, ge=3)

    user_messages_per_minute: int = Field(default=0, ge=0)
    user_daily_tokens: int = Field(default=0, ge=0)
    user_daily_usd: Decimal = Field(default=Decimal(0), ge=0)
    chat_daily_tokens: int = Field(default=0, ge=0)
    chat_daily_usd: Decimal = Field(default=Decimal(0), ge=0)

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: SecretStr | None = None  # shared limits of several replicas (may hold a password)

    answer_max_tokens: int = Field(default=8192, ge=256)
    context_max_tokens: int = Field(default=65536, ge=1024)
    context_max_messages: int = Field(default=200, ge=2)
    max_input_chars: int = Field(default=32000, ge=100)

    health_host: str = "0.0.0.0"  # noqa: S104 - a container serves probes on all interfaces
    health_port: int = Field(default=8080, ge=0, le=65535)
    replica_name: str = Field(default="", max_length=100)  # "" = the host name (see replica())

    default_language: Language = Language.EN
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("openrouter_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        return split_list(value)

    @field_validator("llm_model_requests_per_minute", mode="before")
    @classmethod
    def _model_limits(cls, value: object) -> object:
        """``"openai/gpt-5=60, anthropic/claude-sonnet-4.5=30"`` -> pairs (model, per minute)."""
        value = split_list(value)
        if not isinstance(value, tuple):
            return value
        pairs = []
        for entry in value:
            model, sep, count = str(entry).rpartition("=")
            if not sep or not model.strip() or not count.strip().isdigit():
                raise ValueError("write model=requests per minute, comma-separated")
            pairs.append((model.strip(), int(count)))
        return tuple(pairs)

    @field_validator("llm_free_requests_per_day", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("openrouter_models")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one model id")
        return value

    @field_validator("openrouter_base_url", "database_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def require_api_key(self) -> SecretStr:
        if self.openrouter_api_key is None or not self.openrouter_api_key.get_secret_value():
            raise ConfigError(
                "OPENROUTER_API_KEY is not set: create a key at https://openrouter.ai "
                "(Dashboard -> Keys -> Create Key) and put it in .env or the environment"
            )
        return self.openrouter_api_key


def split_list(value: object) -> object:
    """A comma-separated variable ("a, b,,c"; ";" works too) as a tuple; other values as given."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())
    return value


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one line per bad variable (no values)."""
    return validated(Settings, **overrides)


def validated(settings_class: type[S], **overrides: object) -> S:
    """Build any settings class; a bad variable ends in one ConfigError line that names it."""
    try:
        return settings_class(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"][:1]).upper() or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None


def replica(settings: Settings) -> str:
    """This process's name among the replicas: REPLICA_NAME, else the host name (a container's
    is its id, distinct per replica)."""
    return settings.replica_name.strip() or socket.gethostname()
