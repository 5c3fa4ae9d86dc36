"""Who may talk to the bot: allow lists of users and chats, and admins.

Entries are platform ids ("123456") or usernames ("@alice", case-insensitive). All lists empty
means the bot is open to everyone. Admins are always allowed and may change a shared chat's
settings when admins are configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _normalise(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(entry.strip().lower() for entry in entries if entry.strip())


def _keys(id_: str, username: str | None) -> tuple[str, ...]:
    if username:
        return (id_, "@" + username.lower().lstrip("@"))
    return (id_,)


@dataclass(frozen=True, slots=True)
class Party:
    """A user or a chat as the access rules see it."""

    id: str
    username: str | None = None


class AccessPolicy:
    def __init__(
        self,
        *,
        allowed_users: Iterable[str] = (),
        allowed_chats: Iterable[str] = (),
        allowed_roles: Iterable[str] = (),
        admins: Iterable[str] = (),
    ) -> None:
        self._users = _normalise(allowed_users)
        self._chats = _normalise(allowed_chats)
        self._roles = _normalise(allowed_roles)
        self._admins = _normalise(admins)

    @property
    def open(self) -> bool:
        return not self._users and not self._chats and not self._roles

    def is_admin(self, user: Party) -> bool:
        return any(key in self._admins for key in _keys(user.id, user.username))

    def allows(self, user: Party, *places: Party, roles: Iterable[str] = ()) -> bool:
        """Admins always; everyone when no list is set; else a listed user, a user in a listed
        place (a chat; on Discord also its server or parent channel) or with a listed role."""
        if self.open or self.is_admin(user):
            return True
        if any(key in self._users for key in _keys(user.id, user.username)):
            return True
        if any(role.lower() in self._roles for role in roles):
            return True
        return any(
            key in self._chats for place in places for key in _keys(place.id, place.username)
        )

    def may_change_settings(self, user: Party, *, shared: bool) -> bool:
        """In shared chats, only admins change settings once admins are configured."""
        return not shared or not self._admins or self.is_admin(user)
