"""What the parties of ``bench.replicas`` cost in CPU, read from /proc (Linux).

The replicas, the fake OpenRouter and this process (the driver: the fake Telegram, the balancer,
the users) are single processes. PostgreSQL is many: the postmaster, its helpers (checkpointer,
WAL writer, ...) and a backend per connection. The bench counts the helpers and the backends
connected to its own database, leaving out those of other databases (other people's tests may
share the server). A backend that exits takes its CPU with it, and the replicas' pools close the
connections they open beyond their pool size, so ``PostgresMeter`` samples the backends every
0.2 s and keeps each one's last figure after it exits: a backend that lived less than that is
missed (the number of sessions opened says how many there were). The postmaster's reaped
children give the exited backends' CPU exactly, but of every database: reported beside.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.support import cpu_seconds, process_cpu_seconds

BACKEND = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]")  # a client backend's title
SAMPLE_EVERY = 0.2  # seconds between samples of PostgreSQL's processes


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()


@dataclass(frozen=True)
class PostgresSample:
    """PostgreSQL's processes now: CPU seconds by pid of the server's own ones and of the
    backends of the bench's database; the CPU of every backend that exited so far (the
    postmaster's reaped children); client connections to the bench's database and to all."""

    cpu: dict[int, float]
    reaped: float
    ours: int
    connections: int


class PostgresMeter:
    def __init__(self, database: str) -> None:
        self._database = database
        self._tick = os.sysconf("SC_CLK_TCK")
        self._others: set[int] = set()  # pids that are not PostgreSQL's (skipped next time)
        self._known: dict[int, float] = {}  # last CPU seen of each of ours, alive or not
        self._retired = 0.0  # CPU of ours whose pid was taken by a newer process
        self.peak_ours = 0
        self.peak_all = 0

    def sample(self) -> tuple[float, float]:
        """(CPU seconds so far of our PostgreSQL processes, alive or exited since seen; CPU
        of every backend reaped so far)."""
        found = self._scan()
        for pid, cpu in found.cpu.items():
            old = self._known.get(pid)
            if old is not None and cpu < old:
                self._retired += old
            self._known[pid] = cpu
        self.peak_ours = max(self.peak_ours, found.ours)
        self.peak_all = max(self.peak_all, found.connections)
        return self._retired + sum(self._known.values()), found.reaped

    async def watch(self) -> None:
        """Until cancelled: a sample every SAMPLE_EVERY seconds (peaks from zero)."""
        self.peak_ours = self.peak_all = 0
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY)

    def _scan(self) -> PostgresSample:
        cpu: dict[int, float] = {}
        reaped, ours, connections = 0.0, 0, 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in self._others:
                continue
            pid = int(entry.name)
            try:
                with open(f"/proc/{pid}/comm") as comm:
                    if comm.read().strip() != "postgres":
                        self._others.add(pid)
                        continue
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                fields = _stat_fields(pid)
            except OSError:
                continue  # exited meanwhile
            if BACKEND.search(title):
                connections += 1
                if f" {self._database} " not in f" {title} ":
                    continue
                ours += 1
            elif not title.startswith("postgres:"):  # the postmaster keeps its command line
                reaped = (int(fields[13]) + int(fields[14])) / self._tick
            cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick
        return PostgresSample(cpu, reaped, ours, connections)


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds so far of each party, taken when ``answers`` answers had arrived."""

    at: float
    answers: int
    replicas: tuple[float, ...]
    postgres: float
    reaped: float
    openrouter: float
    driver: float
    busy: int
    total: int


class Meter:
    """Snapshots of the replicas', PostgreSQL's, the fake OpenRouter's, this process's and the
    machine's CPU."""

    def __init__(self, replica_pids: Sequence[int], database: str, openrouter_pid: int) -> None:
        self._pids = list(replica_pids)
        self._openrouter = openrouter_pid
        self.postgres = PostgresMeter(database)

    def take(self, at: float, answers: int) -> Snapshot:
        busy, total = machine_jiffies()
        postgres, reaped = self.postgres.sample()
        return Snapshot(
            at=at,
            answers=answers,
            replicas=tuple(_cpu_or_zero(pid) for pid in self._pids),
            postgres=postgres,
            reaped=reaped,
            openrouter=_cpu_or_zero(self._openrouter),
            driver=cpu_seconds(),
            busy=busy,
            total=total,
        )


def _cpu_or_zero(pid: int) -> float:
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return 0.0  # the process is gone: the report says so from its status


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per party between two snapshots, and the machine's busy cores;
    ``reaped``: of the PostgreSQL backends that exited meanwhile, of every database."""

    answers: int
    wall: float
    replicas: tuple[float, ...]
    postgres: float
    reaped: float
    openrouter: float
    driver: float
    busy_cores: float

    @classmethod
    def between(cls, start: Snapshot, end: Snapshot) -> CpuUse:
        jiffies = max(end.total - start.total, 1)
        return cls(
            answers=end.answers - start.answers,
            wall=max(end.at - start.at, 1e-9),
            replicas=tuple(b - a for a, b in zip(start.replicas, end.replicas, strict=True)),
            postgres=end.postgres - start.postgres,
            reaped=end.reaped - start.reaped,
            openrouter=end.openrouter - start.openrouter,
            driver=end.driver - start.driver,
            busy_cores=(end.busy - start.busy) / jiffies * (os.cpu_count() or 1),
        )

    def per_reply_ms(self, seconds: float) -> float:
        return seconds / max(self.answers, 1) * 1000

    @property
    def replies_per_second(self) -> float:
        return self.answers / self.wall

    @property
    def measured_cores(self) -> float:
        """Cores kept busy by the parties measured here (the rest of the machine's busy time:
        other programs, the kernel, and PostgreSQL backends missed between samples)."""
        parties = sum(self.replicas) + self.postgres + self.openrouter + self.driver
        return parties / self.wall
