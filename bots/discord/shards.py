"""Which part of a Discord bot this process serves when several processes share one bot.

Discord splits a bot's gateway traffic into shards: a guild's events go to shard
``(guild_id >> 22) % shard_count`` and DMs to shard 0. Each replica runs some of the shards
(``DISCORD_SHARD_IDS`` of ``DISCORD_SHARD_COUNT``), so everything addressed to the bot reaches
exactly one replica. Without a shard count there is one unsharded connection, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

DM_SHARD = 0  # Discord delivers DMs (and every event without a guild) to shard 0 only


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that gets a guild's events (Discord's formula)."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class Sharding:
    """The shards this process runs, out of ``count``."""

    ids: tuple[int, ...]
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not self.ids:
            raise ValueError("a sharding needs at least one shard of a count of at least 1")
        if any(not 0 <= shard < self.count for shard in self.ids):
            raise ValueError(f"shard ids must be between 0 and {self.count - 1}")

    @property
    def has_dms(self) -> bool:
        """Whether DMs (shard 0) come to this process; it also registers the slash commands."""
        return DM_SHARD in self.ids

    def owns(self, guild_id: int | None) -> bool:
        """Whether a guild's events (None: DMs) come to this process."""
        if guild_id is None:
            return self.has_dms
        return shard_of(guild_id, self.count) in self.ids

    def only(self, shard_id: int) -> Sharding:
        """The same count, one of this process's shards."""
        return Sharding((shard_id,), self.count)

    def __str__(self) -> str:
        return f"shards {', '.join(map(str, self.ids))} of {self.count}"
