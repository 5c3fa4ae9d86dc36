"""The image as a deployer runs it: built from the real Dockerfile, started with its entrypoint
(migrate, then ``chatrelay run``), polling a fake Telegram and asking a fake OpenRouter, both
started here on 127.0.0.1 (the container shares the host network), healthy by its own
HEALTHCHECK and ``/healthz``, and stopped by SIGTERM within Docker's 10 s while an answer is
still being written."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]

TOKEN = "987654:CONTAINER-secret-token"
API_KEY = "sk-or-v1-container"
APP_UID = 10001  # the image's chatrelay user
BUILD_AND_START_TIMEOUT = 1200.0  # cold: podman installed, Debian base bootstrapped, deps built
STEP_TIMEOUT = 60.0
STOP_LIMIT = 10.0  # `docker stop`'s default grace period


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_process(health_port: int) -> tuple[int, int, list[str]]:
    """(uid, pid in the container's namespace, NSpid) of the container's ``chatrelay run``,
    found through /proc by the HEALTH_PORT only this test's container has."""
    marker = f"HEALTH_PORT={health_port}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"run" not in cmdline or not any(b"chatrelay" in part for part in cmdline):
                continue
            if marker not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            status = (proc / "status").read_text()
        except OSError:  # gone, or not ours to read
            continue
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
        nspid = re.search(r"^NSpid:\s+(.*)$", status, re.M)
        assert uid, status
        assert nspid, status
        return int(uid[1]), int(nspid[1].split()[-1]), nspid[1].split()
    raise AssertionError(f"no `chatrelay run` process with {marker.decode()} on this host")


class Smoke:
    """container-smoke.sh running in the background: build, run, wait for health, then hold the
    container up (its --then command) until ``release()``."""

    def __init__(self, script: Path, sync: Path, log: Path) -> None:
        self.script, self.log = script, log
        self.up, self.done = sync / "up", sync / "done"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, health_url: str, env: dict[str, str]) -> None:
        # The --then command runs on the host once the container is healthy: it says so and
        # waits (at most 20 min) for the test's verdict.
        hold = (
            f"touch {shlex.quote(str(self.up))}; "
            "for _ in $(seq 4800); do "
            f"if [ -f {shlex.quote(str(self.done))} ]; then "
            f'exit "$(cat {shlex.quote(str(self.done))})"; fi; sleep 0.25; done; exit 9'
        )
        args = ["--net", "host", "-u", health_url, "-t", "120", "--then", hold]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                "bash",
                str(self.script),
                *args,
                str(ROOT),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # so a timeout can end the script and its podman calls
            )

    def output(self, tail: int = 0) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-tail:]) if tail else text

    async def wait_until_up(self) -> float:
        assert self.process is not None
        started = time.monotonic()
        while not self.up.exists():
            if self.process.returncode is not None:
                pytest.fail(
                    f"container-smoke.sh ended before the container was healthy:\n{self.output(80)}"
                )
            if time.monotonic() - started > BUILD_AND_START_TIMEOUT:
                pytest.fail(
                    f"not built and healthy within {BUILD_AND_START_TIMEOUT:.0f}s:\n"
                    f"{self.output(80)}"
                )
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    def release(self, ok: bool) -> None:
        if not self.done.exists():
            self.done.write_text("0" if ok else "1")

    async def finish(self) -> int:
        """Wait for the script (it stops and removes the container and the image)."""
        assert self.process is not None
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                return await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            await self.process.wait()
            pytest.fail(f"container-smoke.sh did not end:\n{self.output(40)}")


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenRouter, FakeTelegram]]:
    async with (
        FakeOpenRouter(api_key=API_KEY) as openrouter,
        FakeTelegram(TOKEN, bot_username="relay_bot") as telegram,
    ):
        yield openrouter, telegram


async def test_image_answers_on_telegram_is_healthy_and_stops_within_ten_seconds(
    container_smoke: Path,
    fakes: tuple[FakeOpenRouter, FakeTelegram],
    tmp_path: Path,
) -> None:
    fake, tg = fakes
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "OPENROUTER_API_KEY": API_KEY,
        "OPENROUTER_BASE_URL": fake.base_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        # the host's network: a free port, on loopback only
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(port),
        # few log lines: the script shows the container's last 40, which must reach back to
        # the entrypoint's migration
        "LOG_LEVEL": "WARNING",
    }
    sync = tmp_path / "sync"
    sync.mkdir()
    smoke = Smoke(container_smoke, sync, tmp_path / "container-smoke.log")
    fake.enqueue(
        Answer(content="Hello from **the container**"),
        # the second answer is still being written when the container is stopped
        Answer(content="Written while stopping", first_token_delay=2.0),
    )
    chat = tg.private_chat(77, "Ann")
    ok = False
    await smoke.start(f"{base}/healthz", env)
    try:
        up_after = await smoke.wait_until_up()  # built, migrated, /healthz and HEALTHCHECK pass

        await tg.user_says(chat, None, "hi")
        [reply] = await tg.wait_for_sent(chat, 1, timeout=STEP_TIMEOUT)
        assert reply.text == "Hello from the container"

        async with httpx.AsyncClient(timeout=10) as client:
            alive = await client.get(f"{base}/healthz")
            ready = await client.get(f"{base}/readyz")
            metrics = await client.get(f"{base}/metrics")
        assert alive.status_code == 200
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "telegram": "connected"}
        assert 'chatrelay_replies_sent_total{platform="telegram"} 1.0' in metrics.text

        uid, pid_inside, nspid = bot_process(port)
        assert uid == APP_UID, f"the bot runs as uid {uid}, not the image's chatrelay user"
        assert pid_inside == 1, f"`chatrelay run` is not the container's PID 1 (NSpid {nspid})"

        await tg.user_says(chat, None, "and now?")
        await tg.wait_for(lambda: len(fake.chat_requests) == 2, timeout=STEP_TIMEOUT)
        ok = True
    finally:
        smoke.release(ok)  # the script now stops the container: SIGTERM, 10 s, then SIGKILL
        returncode = await smoke.finish()

    output = smoke.output()
    assert returncode == 0, smoke.output(80)
    stopped = re.search(r"stopped in ([\d.]+)s, exit code (\S+)", output)
    assert stopped, smoke.output(40)
    assert stopped[2] == "0", f"exit code {stopped[2]} on SIGTERM:\n{smoke.output(40)}"
    assert float(stopped[1]) < STOP_LIMIT
    # the answer in flight was finished, and every update confirmed, before the bot exited
    assert [m.text for m in tg.sent[chat]] == ["Hello from the container", "Written while stopping"]
    assert tg.pending_updates == 0
    # The container's log as the script shows it (podman 4.3 now and then shows nothing): the
    # entrypoint migrated before the bot started, and the token was never logged.
    shown = re.search(r"^---- container logs[^\n]*\n(.*?)^== \[", output, re.M | re.S)
    logs = shown[1].strip() if shown else ""
    if logs:
        assert "database is up to date" in logs
    assert TOKEN not in logs

    build = re.search(r"build done in ([\d.]+)s; image (\d+ MB)", output)
    print(
        f"container: built in {build[1] if build else '?'}s, image {build[2] if build else '?'}, "
        f"healthy {up_after:.0f}s after the start of container-smoke.sh, "
        f"stopped in {stopped[1]}s{'' if logs else ', no container log shown'} (log: {smoke.log})"
    )
