"""Telegram settings, read once in the composition root from the environment and `.env`."""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.access import TELEGRAM, check_platform_list, check_shared_list
from core.errors import ConfigError
from core.settings import split_list, validated

DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class TelegramSettings(BaseSettings):
    """Every variable is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = DEFAULT_BASE_URL
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None
    telegram_allowed_users: Annotated[tuple[str, ...], NoDecode] = ()
    telegram_allowed_chats: Annotated[tuple[str, ...], NoDecode] = ()
    admin_users: Annotated[tuple[str, ...], NoDecode] = ()
    telegram_drafts: bool = True
    telegram_placeholders: bool = True
    telegram_private_edit_interval: float = Field(default=1.5, ge=0.1)
    telegram_group_edit_interval: float = Field(default=3.0, ge=0.5)
    telegram_merge_window: float = Field(default=1.0, ge=0)
    telegram_shutdown_grace: float = Field(default=8.0, ge=0)
    telegram_delivery_retry_seconds: float = Field(default=3600.0, ge=0)

    _lists = field_validator(
        "telegram_allowed_users", "telegram_allowed_chats", "admin_users", mode="before"
    )(split_list)

    @field_validator("telegram_allowed_users", "telegram_allowed_chats")
    @classmethod
    def _own_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_platform_list(value, TELEGRAM)

    @field_validator("admin_users")
    @classmethod
    def _admin_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_shared_list(value)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be the public https:// URL Telegram posts updates to")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if not 1 <= len(secret) <= 256 or not all(c.isalnum() or c in "_-" for c in secret):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_bot_token.get_secret_value())

    @property
    def token(self) -> str:
        if self.telegram_bot_token is None:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
        return self.telegram_bot_token.get_secret_value()

    @property
    def base_url(self) -> str:
        return self.telegram_base_url.rstrip("/")

    @property
    def base_file_url(self) -> str:
        """Where files are downloaded: ``…/bot`` becomes ``…/file/bot``."""
        base = self.base_url
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file"

    @property
    def webhook_path(self) -> str:
        """The path of the webhook URL, which the bot listens on."""
        if self.telegram_webhook_url is None:
            return ""
        return urlsplit(self.telegram_webhook_url).path.lstrip("/")

    @property
    def webhook_secret(self) -> str:
        """The configured secret, or one derived from the token so every copy agrees."""
        if self.telegram_webhook_secret is not None:
            return self.telegram_webhook_secret.get_secret_value()
        digest = hashlib.sha256(b"chatrelay-webhook:" + self.token.encode()).hexdigest()
        return digest[:64]


def load_telegram_settings(**overrides: object) -> TelegramSettings:
    """Build TelegramSettings; a bad variable ends in one line that names it (no values)."""
    return validated(TelegramSettings, **overrides)
