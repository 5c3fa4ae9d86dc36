"""Shared pieces of the benchmarks: a fake OpenRouter in its own process, figures, a null sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence

import httpx

from core.ports import Reply, SinkLimits

API_KEY = "bench-key"
# A paid model of the fake's list: a deployment answering many chats at once runs on a paid
# model (free ones allow 20 requests a minute; bench.limits measures that queue).
BENCH_MODEL = "openai/gpt-5"


@contextlib.asynccontextmanager
async def fake_openrouter_process(
    *, first_token_delay: float, chunks: int = 8, chunk_delay: float = 0.0
) -> AsyncIterator[str]:
    """Run tests.fakes.openrouter in a separate process (its CPU is not counted as ours)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openrouter",
        "--api-key",
        API_KEY,
        "--first-token-delay",
        str(first_token_delay),
        "--chunks",
        str(chunks),
        "--delay",
        str(chunk_delay),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    base_url = (await process.stdout.readline()).decode().strip()
    try:
        yield base_url
    finally:
        process.terminate()
        await process.wait()


async def llm_baseline_ms(base_url: str, *, stream: bool, rounds: int = 15) -> float:
    """The fake LLM's own time as a bare httpx client sees it (median of sequential requests):
    its delay plus its own HTTP handling. What chatrelay adds is measured beyond this."""
    body = {
        "model": BENCH_MODEL,
        "messages": [{"role": "user", "content": "baseline"}],
        "stream": stream,
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    timings = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(rounds + 1):
            started = time.perf_counter()
            url = f"{base_url}/chat/completions"
            async with client.stream("POST", url, json=body, headers=headers) as response:
                async for _chunk in response.aiter_raw():
                    pass
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[1:])  # the first one also opens the connection


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe_ms(values: Sequence[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.2f} ms, p95 {percentile(values, 95):.2f} ms, "
        f"p99 {percentile(values, 99):.2f} ms, max {max(values):.2f} ms, "
        f"mean {statistics.fmean(values):.2f} ms"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class NullSink:
    """Takes drafts and replies like a platform would, and counts them."""

    def __init__(self, *, streams: bool) -> None:
        self._limits = SinkLimits(min_draft_interval=1.0, streams=streams)
        self.drafts = 0
        self.replies: list[Reply] = []

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    async def show_typing(self) -> None:
        return None

    async def show_draft(self, text: str) -> None:
        self.drafts += 1

    async def deliver(self, reply: Reply) -> Sequence[str]:
        self.replies.append(reply)
        return ("1",)


def process_cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU of another process (all its threads) so far, or of one of its threads,
    from /proc (Linux)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as stat:
        fields = stat.read().rpartition(")")[2].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    """Another process's peak resident memory so far (VmHWM in /proc, Linux)."""
    return _status_mb(pid, "VmHWM")


def process_rss_mb(pid: int) -> float:
    """Another process's resident memory now (VmRSS in /proc, Linux)."""
    return _status_mb(pid, "VmRSS")


def _status_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for process {pid}")


def process_cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of another process (all its threads) so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick
