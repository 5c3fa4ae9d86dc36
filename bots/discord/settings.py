"""Discord settings, read once in the composition root from the environment and `.env`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bots.discord.shards import Sharding
from core.access import DISCORD, check_id_list, check_platform_list, check_shared_list
from core.errors import ConfigError
from core.settings import split_list, validated

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


class DiscordSettings(BaseSettings):
    """Every variable is documented in `.env.example`.

    Sharding, for several replicas serving one bot (on one PostgreSQL database):
    ``DISCORD_SHARD_COUNT`` is the total number of shards across all replicas (0 or unset: no
    sharding, one connection for everything, as a single process runs) and
    ``DISCORD_SHARD_IDS`` the shards this replica runs (comma-separated, each below the count;
    empty: all of them). A guild's messages and slash commands go to shard
    ``(guild_id >> 22) % DISCORD_SHARD_COUNT``, DMs to shard 0, so give every shard to exactly
    one replica. Only the replica running shard 0 registers the slash commands (one bulk
    overwrite per start instead of one per replica, which Discord limits per day); the others
    log at INFO that they leave it to shard 0. On start each replica reads back (catch-up) only
    the channels of its own guilds, and DMs only on shard 0.
    """

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
    discord_shard_count: int = Field(default=0, ge=0)  # before the ids, which are checked by it
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = ()

    _lists = field_validator(
        "discord_guild_ids",
        "discord_allowed_guilds",
        "discord_allowed_channels",
        "discord_allowed_roles",
        "discord_allowed_users",
        "admin_users",
        "discord_shard_ids",
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

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        count = info.data.get("discord_shard_count")
        if count is None:  # the count itself is wrong (and reported)
            return value
        if value and not count:
            raise ValueError(
                "needs DISCORD_SHARD_COUNT, the total number of shards across all replicas"
            )
        wrong = [shard for shard in value if not 0 <= shard < count]
        if wrong:
            raise ValueError(
                f"shard {wrong[0]} is out of range for DISCORD_SHARD_COUNT={count} "
                f"(shard ids run from 0 to {count - 1})"
            )
        repeated = sorted({shard for shard in value if value.count(shard) > 1})
        if repeated:
            raise ValueError(f"shard {repeated[0]} is listed twice")
        return value

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

    @property
    def sharding(self) -> Sharding | None:
        """The shards this process runs (None: no sharding)."""
        if not self.discord_shard_count:
            return None
        ids = sorted(self.discord_shard_ids or range(self.discord_shard_count))
        return Sharding(tuple(ids), self.discord_shard_count)


def load_discord_settings(**overrides: object) -> DiscordSettings:
    """Build DiscordSettings; a bad variable ends in one line that names it (no values)."""
    return validated(DiscordSettings, **overrides)
