"""The access variables as start-up reads them: a wrong entry stops start-up with one line that
names the variable and never repeats the entry."""

from collections.abc import Callable
from pathlib import Path

import pytest

from bots.discord.settings import load_discord_settings
from bots.telegram.settings import load_telegram_settings
from core.errors import ConfigError

VARIABLES = (
    "ADMIN_USERS",
    "TELEGRAM_ALLOWED_USERS",
    "TELEGRAM_ALLOWED_CHATS",
    "DISCORD_ALLOWED_USERS",
    "DISCORD_ALLOWED_GUILDS",
    "DISCORD_ALLOWED_CHANNELS",
    "DISCORD_ALLOWED_ROLES",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def refusal(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> str:
    monkeypatch.setenv(variable, value)
    load = load_discord_settings if variable.startswith("DISCORD") else load_telegram_settings
    with pytest.raises(ConfigError) as caught:
        load()
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message
    return message


def test_prefixed_entries_are_read_by_both_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ADMIN_USERS", "telegram:@Ann, discord:@bob, 42, discord:1234567890123456789"
    )
    monkeypatch.setenv("TELEGRAM_ALLOWED_USERS", "@cy, telegram:7")
    monkeypatch.setenv("DISCORD_ALLOWED_ROLES", "555, discord:777")
    assert len(load_telegram_settings().admin_users) == 4
    assert load_telegram_settings().telegram_allowed_users == ("@cy", "telegram:7")
    assert load_discord_settings().discord_allowed_roles == ("555", "discord:777")


@pytest.mark.parametrize("loader", [load_telegram_settings, load_discord_settings])
def test_a_bare_username_among_the_admins_stops_start_up_on_both_platforms(
    monkeypatch: pytest.MonkeyPatch, loader: Callable[[], object]
) -> None:
    monkeypatch.setenv("ADMIN_USERS", "42, @secretboss")
    with pytest.raises(ConfigError) as caught:
        loader()
    message = str(caught.value)
    assert "ADMIN_USERS" in message
    assert "telegram:@name or discord:@name" in message
    assert "secretboss" not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEGRAM_ALLOWED_USERS", "@ann, discord:@secretname"),
        ("TELEGRAM_ALLOWED_CHATS", "discord:12345"),
        ("DISCORD_ALLOWED_USERS", "telegram:@secretname"),
        ("DISCORD_ALLOWED_CHANNELS", "telegram:12345"),
    ],
)
def test_an_entry_for_the_other_platform_in_a_platforms_own_list_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    message = refusal(monkeypatch, variable, value)
    assert "only" in message
    assert "secretname" not in message
    assert "12345" not in message


@pytest.mark.parametrize("value", ["admin", "@admin", "555, Moderators"])
def test_a_role_name_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    message = refusal(monkeypatch, "DISCORD_ALLOWED_ROLES", value)
    assert "ids only" in message
    assert "oderators" not in message


def test_a_malformed_entry_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, "TELEGRAM_ALLOWED_USERS", "ann smith")
    assert "telegram:" in message
    assert "smith" not in message
