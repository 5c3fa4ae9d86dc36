"""A fake OpenRouter and the environment a user would give `chatrelay`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openrouter import FakeOpenRouter

API_KEY = "sk-or-v1-e2e"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def env(fake: FakeOpenRouter, tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT")}
    return {
        **keep,
        "OPENROUTER_API_KEY": API_KEY,
        "OPENROUTER_BASE_URL": fake.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'bot.db'}",
        "LANG": "en_US.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "HEALTH_PORT": "0",  # tests that want the endpoint pick a free port
    }
