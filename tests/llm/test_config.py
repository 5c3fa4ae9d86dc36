from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.errors import ConfigError
from core.llm import OpenRouterConfig, build_http_client
from core.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_from_settings_copies_every_field() -> None:
    config = OpenRouterConfig.from_settings(
        settings(
            openrouter_api_key=SecretStr("sk-or-v1-secret"),
            openrouter_base_url="http://127.0.0.1:9999/api/v1/",
            openrouter_stream=False,
            openrouter_connect_timeout=1.5,
            openrouter_first_token_timeout=2.5,
            openrouter_idle_timeout=3.5,
            openrouter_total_timeout=4.5,
            openrouter_max_attempts=7,
            openrouter_max_retry_wait=8.5,
            openrouter_app_url="https://example.org",
            openrouter_app_title="Example",
        )
    )
    assert config == OpenRouterConfig(
        api_key=SecretStr("sk-or-v1-secret"),
        base_url="http://127.0.0.1:9999/api/v1",
        stream=False,
        connect_timeout=1.5,
        first_token_timeout=2.5,
        idle_timeout=3.5,
        total_timeout=4.5,
        max_attempts=7,
        max_retry_wait=8.5,
        app_url="https://example.org",
        app_title="Example",
    )
    assert "sk-or-v1-secret" not in repr(config)


def test_from_settings_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY"):
        OpenRouterConfig.from_settings(settings())


async def test_http_client_carries_auth_attribution_and_timeouts() -> None:
    config = OpenRouterConfig(api_key=SecretStr("k"), connect_timeout=3, app_title="T")
    async with build_http_client(config) as http:
        assert http.headers["Authorization"] == "Bearer k"
        assert http.headers["HTTP-Referer"] == config.app_url
        assert http.headers["X-OpenRouter-Title"] == "T"
        assert http.timeout.connect == 3
        assert http.timeout.read is None  # read deadlines are enforced by the client itself
