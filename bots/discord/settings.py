"""Discord settings, read once in the composition root from the environment and `.env`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.access import DISCORD, check_id_list, check_platform_list, check_shared_list
from core.errors import ConfigError
from core.settings import split_list, validated

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


class DiscordSettings(BaseSettings):
    """Every variable is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = DEFAULT_API_BASE_URL
    discord_gateway_url: str = DEFAULT_GATEWAY_URL
    discord_guild_ids: Annotated[tuple[int, ...], NoDecode] = ()
    discord_allowed_guilds: Annotated[tuple[str, ...], NoDecode] = ()
    discord_allowed_channels: Annotated[tuple[str, ...], NoDecode] = ()
    discord_allowed_roles: Annotated[tuple[str, ...], NoDecode] = ()
    discord_allowed_users: Annotated[tuple[str, ...], NoDecode] = ()
    admin_users: Annotated[tuple[str, ...], NoDecode] = ()
    discord_ask_threads: bool = True
    discord_edit_interval: float = Field(default=1.0, ge=0.2)
    discord_text_file_max_kb: int = Field(default=100, ge=0)
    discord_shutdown_grace: float = Field(default=8.0, ge=0)
    discord_catch_up_minutes: float = Field(default=60.0, ge=0)
    discord_delivery_retry_seconds: float = Field(default=3600.0, ge=0)

    _lists = field_validator(
        "discord_guild_ids",
        "discord_allowed_guilds",
        "discord_allowed_channels",
        "discord_allowed_roles",
        "discord_allowed_users",
        "admin_users",
        mode="before",
    )(split_list)

    @field_validator("discord_allowed_users")
    @classmethod
    def _own_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_platform_list(value, DISCORD)

    @field_validator("discord_allowed_guilds", "discord_allowed_channels")
    @classmethod
    def _place_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_id_list(
            value, DISCORD, "copy them with Developer Mode on (right-click, Copy ID)"
        )

    @field_validator("discord_allowed_roles")
    @classmethod
    def _role_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Role names are never matched: anyone can create a role called "admin" elsewhere."""
        return check_id_list(
            value,
            DISCORD,
            "a role's name can be copied in any server; with Developer Mode on, right-click "
            "the role in Server Settings -> Roles and Copy Role ID",
        )

    @field_validator("admin_users")
    @classmethod
    def _admin_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_shared_list(value)

    @field_validator("discord_api_base_url", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a URL")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.discord_bot_token and self.discord_bot_token.get_secret_value())

    @property
    def token(self) -> str:
        if self.discord_bot_token is None:
            raise ConfigError("DISCORD_BOT_TOKEN is not set")
        return self.discord_bot_token.get_secret_value()

    @property
    def api_base_url(self) -> str:
        return self.discord_api_base_url.rstrip("/")


def load_discord_settings(**overrides: object) -> DiscordSettings:
    """Build DiscordSettings; a bad variable ends in one line that names it (no values)."""
    return validated(DiscordSettings, **overrides)
