"""A private PostgreSQL server for one test, which the test may stop, start and restart.

The machine's own ``initdb`` and ``pg_ctl`` (on PATH, else the newest
``/usr/lib/postgresql/*/bin``; ``CHATRELAY_POSTGRES_BIN`` names another directory) create a
cluster in a fresh temporary directory and run it on a free port on 127.0.0.1, with trust
authentication, its Unix socket in that directory, and durability off (fsync) for speed. It is
stopped and its directory removed afterwards. It never touches another server: every ``pg_ctl``
call names its own data directory, its port is never 5432, and no ``PG*`` variable of the
caller's environment reaches the tools.

initdb refuses to run as root; as root the server runs as the unprivileged ``postgres`` user
(else ``nobody``), through ``subprocess``'s ``user=``/``group=``.

When the binaries (or, as root, an unprivileged user) are missing, the test is skipped with the
reason, or fails when ``CHATRELAY_REQUIRE_POSTGRES=1`` (a broken setup must not pass as skipped).

    async with throwaway_postgres() as server:
        env["DATABASE_URL"] = server.database_url      # postgresql+asyncpg://postgres@.../chatrelay
        await server.restart(down_seconds=2.0)         # pg_ctl stop -m fast, wait, start
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REQUIRE_POSTGRES_ENV = "CHATRELAY_REQUIRE_POSTGRES"
POSTGRES_BIN_ENV = "CHATRELAY_POSTGRES_BIN"
SHARED_PORT = 5432  # the machine's own server: never used
SUPERUSER = "postgres"
DATABASE = "chatrelay"
UNPRIVILEGED_USERS = ("postgres", "nobody")
TOOL_TIMEOUT_SECONDS = 60.0
PORT_ATTEMPTS = 5
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'32MB'",
    "max_connections": "200",
    "log_min_messages": "warning",
}


class PostgresUnavailable(Exception):
    """Why a throwaway server can't be run here (missing binaries, root without a user)."""


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    name: str


def find_binaries() -> Path:
    """The directory that holds both ``initdb`` and ``pg_ctl`` (raises PostgresUnavailable)."""
    configured = os.environ.get(POSTGRES_BIN_ENV)
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured))
    else:
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        candidates += [Path(p) for p in sorted(versions, key=_version_key, reverse=True)]
        candidates += [Path("/usr/local/pgsql/bin")]
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return directory
    where = configured or "PATH, /usr/lib/postgresql/*/bin and /usr/local/pgsql/bin"
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries (initdb and pg_ctl) in {where}; install the server "
        f"package (e.g. apt-get install postgresql) or set {POSTGRES_BIN_ENV}"
    )


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def _run_as() -> _RunAs | None:
    """None when not root; as root, the unprivileged user that runs the server."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(entry.pw_uid, entry.pw_gid, name)
    raise PostgresUnavailable(
        "the tests run as root, which initdb refuses, and there is no unprivileged user "
        f"({' or '.join(UNPRIVILEGED_USERS)}) to run PostgreSQL as"
    )


def unavailable_reason() -> str | None:
    """None when a throwaway server can be started here, else why not."""
    try:
        find_binaries()
        _run_as()
    except PostgresUnavailable as exc:
        return str(exc)
    return None


def require_binaries() -> Path:
    """The binaries' directory; skips the test when missing (fails under REQUIRE_POSTGRES=1)."""
    try:
        directory = find_binaries()
        _run_as()
    except PostgresUnavailable as exc:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))
    return directory


def free_port() -> int:
    """A port nothing listens on now on 127.0.0.1 (never the shared server's)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != SHARED_PORT:
            return port


class ThrowawayPostgres:
    """One private cluster. ``await start()`` / ``stop()`` / ``restart()``; ``await close()``
    stops it and removes its directory (``throwaway_postgres()`` does all of it)."""

    def __init__(self, bin_dir: Path, base: Path, run_as: _RunAs | None) -> None:
        self.bin_dir = bin_dir
        self.base = base
        self.data_dir = base / "data"
        self.log_file = base / "server.log"
        self.port = 0
        self.restarts = 0
        self._run_as = run_as
        self._running = False

    # ---- addresses

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def database_url(self) -> str:
        """The ``chatrelay`` database (created empty by ``throwaway_postgres()``)."""
        return self.url(DATABASE)

    @property
    def running(self) -> bool:
        return self._running

    # ---- lifecycle

    async def init(self) -> None:
        """``initdb`` (trust authentication, UTF-8, no locale)."""
        self.base.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            os.chown(self.base, self._run_as.uid, self._run_as.gid)
        await self._tool(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\ninclude 'throwaway.conf'\n")

    async def start(self) -> None:
        """Start: the first time on a free port, afterwards on the same one (clients of the
        restarted server must find it where it was)."""
        if self._running:
            return
        first = not self.port
        for _ in range(PORT_ATTEMPTS if first else 1):
            if first:
                self.port = free_port()
            self._write_settings()
            try:
                await self._pg_ctl("start", "-l", str(self.log_file))
            except PostgresToolError:
                if first and "could not bind" in self.log_tail():
                    continue  # someone took the port meanwhile: another one
                raise
            self._running = True
            _live.add(self)
            return
        raise PostgresToolError(f"no free port to start on:\n{self.log_tail()}")

    async def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (sessions are cut, as in a restart by an operator)."""
        if not self._running:
            return
        await self._pg_ctl("stop", "-m", mode)
        self._running = False
        _live.discard(self)

    async def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (fast), stay down ``down_seconds``, start again on the same port."""
        await self.stop()
        if down_seconds > 0:
            await asyncio.sleep(down_seconds)  # the outage itself: its length is the point
        await self.start()
        self.restarts += 1

    async def create_database(self, name: str = DATABASE) -> None:
        import asyncpg  # the application's driver; imported here to keep this module light

        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, database="postgres", timeout=10
        )
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def close(self) -> None:
        """Stop the server (if running) and remove its directory."""
        try:
            if self._running:
                try:
                    await self.stop("fast")
                except PostgresToolError:
                    await self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def stop_now(self) -> None:
        """Synchronous last resort (at interpreter exit): stop immediately."""
        if not self._running:
            return
        with contextlib.suppress(Exception):
            subprocess.run(  # our own binary, our own data directory
                self._command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate"),
                timeout=TOOL_TIMEOUT_SECONDS,
                capture_output=True,
                check=False,
                **self._as_user(),
            )
        self._running = False
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ---- plumbing

    def _write_settings(self) -> None:
        if self.port == SHARED_PORT:
            raise RuntimeError("the throwaway server must never use the shared port 5432")
        settings = {
            **SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.base}'",
        }
        path = self.data_dir / "throwaway.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
        if self._run_as is not None:
            os.chown(path, self._run_as.uid, self._run_as.gid)

    async def _pg_ctl(self, action: str, *args: str) -> None:
        await self._tool("pg_ctl", action, "-D", str(self.data_dir), "-w", "-t", "30", "-s", *args)

    def _command(self, tool: str, *args: str) -> list[str]:
        return [str(self.bin_dir / tool), *args]

    def _as_user(self) -> dict[str, Any]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "HOME": str(self.base),
        }  # nothing else: no PGDATA/PGPORT/PGHOST of the caller can redirect the tools
        options: dict[str, Any] = {"env": env, "cwd": str(self.base)}
        if self._run_as is not None:
            options.update(user=self._run_as.uid, group=self._run_as.gid, extra_groups=[])
        return options

    async def _tool(self, tool: str, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._command(tool, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            **self._as_user(),
        )
        try:
            async with asyncio.timeout(TOOL_TIMEOUT_SECONDS):
                out, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PostgresToolError(f"{tool} {' '.join(args[:1])} timed out") from None
        if process.returncode != 0:
            raise PostgresToolError(
                f"{tool} {' '.join(args)} exited with {process.returncode}: "
                f"{out.decode(errors='replace').strip()}\n{self.log_tail()}"
            )


class PostgresToolError(RuntimeError):
    """initdb or pg_ctl failed (with its output and the end of the server log)."""


_live: set[ThrowawayPostgres] = set()


@atexit.register
def _stop_leftovers() -> None:
    """A test process that dies without its teardown leaves no server behind."""
    for server in list(_live):
        server.stop_now()


@asynccontextmanager
async def throwaway_postgres(*, database: str = DATABASE) -> AsyncIterator[ThrowawayPostgres]:
    """A running private server with an empty ``database``; skips when it can't be had."""
    bin_dir = require_binaries()
    run_as = _run_as()
    base = Path(tempfile.mkdtemp(prefix="chatrelay-pg-"))  # short: the socket path must fit
    server = ThrowawayPostgres(bin_dir, base, run_as)
    try:
        await server.init()
        await server.start()
        await server.create_database(database)
        yield server
    finally:
        await server.close()


@pytest.fixture
async def throwaway_postgres_server() -> AsyncIterator[ThrowawayPostgres]:
    """The fixture form of ``throwaway_postgres()`` (import it into a conftest to use it)."""
    async with throwaway_postgres() as server:
        yield server
