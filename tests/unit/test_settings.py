import re
from pathlib import Path

import pytest

from bots.discord.settings import DiscordSettings, load_discord_settings
from bots.telegram.settings import TelegramSettings, load_telegram_settings
from core.errors import ConfigError
from core.settings import DEFAULT_MODELS, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_MODELS", "CONTEXT_MAX_TOKENS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.openrouter_models == DEFAULT_MODELS
    assert settings.openrouter_models[0] == "tencent/hy3-preview:free"
    assert settings.database_url == "sqlite+aiosqlite:///./data/chatrelay.db"
    assert settings.openrouter_base_url == "https://openrouter.ai/api/v1"


def test_model_chain_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_MODELS", " a/b:free , c/d ,, ")
    assert load_settings().openrouter_models == ("a/b:free", "c/d")


def test_an_invalid_setting_names_the_variable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXT_MAX_TOKENS", "lots")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "CONTEXT_MAX_TOKENS" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_model_chain_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_MODELS", " , ")
    with pytest.raises(ConfigError, match="OPENROUTER_MODELS"):
        load_settings()


def test_a_missing_key_is_named_and_a_present_key_never_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY"):
        load_settings().require_api_key()
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-secretvalue")
    settings = load_settings()
    assert settings.require_api_key().get_secret_value() == "sk-or-v1-secretvalue"
    assert "secretvalue" not in repr(settings)
    assert "secretvalue" not in str(settings.model_dump())


def test_settings_come_from_dotenv(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with open(".env", "w", encoding="utf-8") as env:
        env.write("OPENROUTER_MODELS=x/y\nDEFAULT_LANGUAGE=zh\n")
    settings = load_settings()
    assert settings.openrouter_models == ("x/y",)
    assert settings.default_language.value == "zh"


def test_every_setting_is_documented_in_env_example() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text(encoding="utf-8")
    # NAME=value, or "# NAME=value" for a setting left at its default on purpose
    documented = {
        match.group(1)
        for match in re.finditer(r"^(?:# )?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE)
    }
    fields = {*Settings.model_fields, *TelegramSettings.model_fields, *DiscordSettings.model_fields}
    assert documented == {name.upper() for name in fields}


def test_telegram_is_off_without_a_token_and_lists_split_on_commas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert not load_telegram_settings().enabled
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc-secret-token")
    monkeypatch.setenv("TELEGRAM_ALLOWED_USERS", " 42, @Ann ,,")
    settings = load_telegram_settings()
    assert settings.enabled
    assert settings.telegram_allowed_users == ("42", "@Ann")
    assert "abc-secret-token" not in repr(settings)


def test_the_file_url_and_webhook_path_follow_the_configured_urls() -> None:
    settings = load_telegram_settings(
        telegram_bot_token="1:x",
        telegram_base_url="http://127.0.0.1:8081/bot/",
        telegram_webhook_url="https://bot.example.com/tg/hook",
    )
    assert settings.base_url == "http://127.0.0.1:8081/bot"
    assert settings.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.webhook_path == "tg/hook"
    secret = settings.webhook_secret
    assert secret == load_telegram_settings(telegram_bot_token="1:x").webhook_secret
    assert secret != load_telegram_settings(telegram_bot_token="2:x").webhook_secret
    assert "1:x" not in secret


@pytest.mark.parametrize(
    ("name", "value"),
    [("TELEGRAM_WEBHOOK_URL", "not a url"), ("TELEGRAM_WEBHOOK_SECRET", "has spaces!")],
)
def test_bad_telegram_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_telegram_settings()


def test_discord_lists_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert not load_discord_settings().enabled
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "MTIz.secret-token")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "1, 2")
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://127.0.0.1:9/api/v10/")
    settings = load_discord_settings()
    assert settings.discord_guild_ids == (1, 2)
    assert settings.api_base_url == "http://127.0.0.1:9/api/v10"
    assert "secret-token" not in repr(settings)
    monkeypatch.setenv("DISCORD_GUILD_IDS", "general")
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS"):
        load_discord_settings()
