"""Who may talk to the bot: allow lists of users, chats and roles, and admins.

Entries are ids ("123456") or usernames ("@alice", case-insensitive), optionally prefixed with
the platform they belong to: ``telegram:123``, ``telegram:@alice``, ``discord:@alice``. In a
platform's own lists a bare entry means that platform. ``ADMIN_USERS`` is shared by every
platform: a bare ``@name`` there is refused at start-up (the same name may belong to different
people on Telegram and Discord); a bare id is accepted on every platform, since Telegram ids and
Discord snowflakes never overlap (Telegram's are below 2**52, Discord's have 17 digits or more).

All lists empty means the bot is open to everyone. Admins are always allowed and alone change a
shared chat's settings when admins are configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TELEGRAM = "telegram"
DISCORD = "discord"
PLATFORMS = (TELEGRAM, DISCORD)

_ID = re.compile(r"-?\d+")
_USERNAME = re.compile(r"@[a-z0-9_.]+")
SYNTAX = "entries are ids (123) or @usernames, optionally prefixed telegram: or discord:"


class AccessEntryError(ValueError):
    """A malformed or misplaced entry. The message never repeats the entry itself."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One list entry: the platform it names (None: bare) and its key ("123" or "@name")."""

    platform: str | None
    key: str

    @property
    def is_username(self) -> bool:
        return self.key.startswith("@")


def parse_entry(text: str) -> Entry:
    """``"telegram:@Ann"`` -> ``Entry("telegram", "@ann")``; raises AccessEntryError."""
    value = text.strip().lower()
    platform: str | None = None
    prefix, colon, rest = value.partition(":")
    if colon:
        if prefix not in PLATFORMS:
            raise AccessEntryError(f"unknown prefix: {SYNTAX}")
        platform, value = prefix, rest.strip()
    if not (_ID.fullmatch(value) or _USERNAME.fullmatch(value)):
        raise AccessEntryError(SYNTAX)
    return Entry(platform, value)


def check_platform_list(entries: Iterable[str], platform: str) -> tuple[str, ...]:
    """A platform's own list (``TELEGRAM_ALLOWED_USERS`` ...): no entry for another platform."""
    checked = tuple(entries)
    for text in checked:
        entry = parse_entry(text)
        if entry.platform not in (None, platform):
            raise AccessEntryError(
                f"an entry is prefixed {entry.platform}: but this list is for {platform} only"
            )
    return checked


def check_id_list(entries: Iterable[str], platform: str, hint: str) -> tuple[str, ...]:
    """A platform's list that takes ids only (Discord servers, channels and roles)."""
    checked = tuple(entries)
    for text in checked:
        try:
            entry = parse_entry(text)
        except AccessEntryError:
            entry = Entry(None, "@")  # not an id either
        if entry.platform not in (None, platform):
            raise AccessEntryError(
                f"an entry is prefixed {entry.platform}: but this list is for {platform} only"
            )
        if entry.is_username:
            raise AccessEntryError(f"takes ids only: {hint}")
    return checked


def check_shared_list(entries: Iterable[str]) -> tuple[str, ...]:
    """``ADMIN_USERS``, read by every platform: a bare @username is ambiguous."""
    checked = tuple(entries)
    for text in checked:
        entry = parse_entry(text)
        if entry.platform is None and entry.is_username:
            raise AccessEntryError(
                "a bare @username is ambiguous here (Telegram and Discord names belong to "
                "different people): write telegram:@name or discord:@name"
            )
    return checked


def keys_for(platform: str, entries: Iterable[str]) -> frozenset[str]:
    """The keys of the entries that apply to ``platform`` (bare ones and its own)."""
    keys: set[str] = set()
    for text in entries:
        if not text.strip():
            continue
        entry = parse_entry(text)
        if entry.platform in (None, platform):
            keys.add(entry.key)
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class Party:
    """A user or a chat as the access rules see it (on the policy's platform)."""

    id: str
    username: str | None = None

    def match_keys(self) -> tuple[str, ...]:
        if self.username:
            return (self.id, "@" + self.username.lower().lstrip("@"))
        return (self.id,)


class AccessPolicy:
    """The rules of one platform: entries for another platform never match here."""

    def __init__(
        self,
        platform: str,
        *,
        allowed_users: Iterable[str] = (),
        allowed_chats: Iterable[str] = (),
        allowed_roles: Iterable[str] = (),
        admins: Iterable[str] = (),
    ) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        self.platform = platform
        self._users = keys_for(platform, allowed_users)
        self._chats = keys_for(platform, allowed_chats)
        self._roles = keys_for(platform, check_id_list(allowed_roles, platform, "role ids"))
        admin_entries = check_shared_list(entry for entry in admins if entry.strip())
        self._admins = keys_for(platform, admin_entries)
        # Admins named for another platform only still make shared settings admin-only here.
        self._admins_configured = bool(admin_entries)

    @property
    def open(self) -> bool:
        return not self._users and not self._chats and not self._roles

    def is_admin(self, user: Party) -> bool:
        return any(key in self._admins for key in user.match_keys())

    def allows(self, user: Party, *places: Party, roles: Iterable[str] = ()) -> bool:
        """Admins always; everyone when no list is set; else a listed user, a user in a listed
        place (a chat; on Discord also its server or parent channel) or with a listed role
        (by id: a role's name can be copied by anyone in another server)."""
        if self.open or self.is_admin(user):
            return True
        if any(key in self._users for key in user.match_keys()):
            return True
        if any(role in self._roles for role in roles):
            return True
        return any(key in self._chats for place in places for key in place.match_keys())

    def may_change_settings(self, user: Party, *, shared: bool) -> bool:
        """In shared chats, only admins change settings once ``ADMIN_USERS`` is set (even when it
        names admins of another platform only)."""
        return not shared or not self._admins_configured or self.is_admin(user)
