"""The faults ``bench.soak`` injects, each for a short while, at random moments.

One injector per service (OpenRouter, Telegram, Discord) runs at a time per service, so faults
of different services may overlap; each fault is undone when its window ends (or when the load
ends). Every fault uses a switch the fakes already have:

- OpenRouter (``FakeOpenRouter.set_model_behaviour`` on the bot's only model): 429 with
  Retry-After, 502, 503, a hang before the first byte (then a normal answer), an error chunk
  mid-stream, the connection cut mid-stream, the connection reset before the headers.
- Telegram (``FakeTelegram``): sendMessage / editMessageText / getUpdates answering 5xx or
  dropping the connection (``break_method``), 429 flood errors with retry_after for the next
  few calls (``fail``), Telegram unreachable (``refuse_connections``).
- Discord (``FakeDiscord``): message create / edit routes answering 5xx or dropping the
  connection (``break_route``), 429s for the next few requests (``rate_limit``), the gateway
  down (``drop_gateway``: connections closed, new ones refused until restored).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import Disconnect, ErrorReply, FakeOpenRouter, Hang, MidStreamError
from tests.fakes.openrouter import Scenario as LlmScenario
from tests.fakes.telegram import FakeTelegram

Action = Callable[[], Awaitable[None]]
DISCORD_CREATE = "POST /channels/{channel_id}/messages"
DISCORD_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
TELEGRAM_5XX = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


async def nothing() -> None:
    return None


async def stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True when it is set."""
    if seconds > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@dataclass(frozen=True)
class Fault:
    kind: str  # what the summary counts, e.g. "OpenRouter 502"
    detail: str
    begin: Action
    end: Action = nothing


Maker = Callable[[random.Random], Fault]


@dataclass(frozen=True)
class Window:
    kind: str
    detail: str
    start: float  # monotonic seconds
    end: float


@dataclass
class FaultLog:
    windows: list[Window] = field(default_factory=list)

    def active_during(self, start: float, end: float) -> list[str]:
        """The kinds of the faults in force at some moment from ``start`` to ``end``."""
        return [w.kind for w in self.windows if w.start <= end and start <= w.end]

    def counts(self) -> Counter[str]:
        return Counter(w.kind for w in self.windows)

    def seconds(self) -> float:
        return sum(w.end - w.start for w in self.windows)


@dataclass(frozen=True)
class FaultPace:
    gap: tuple[float, float]  # seconds between one fault's end and the next one's start
    length: tuple[float, float]  # seconds a fault lasts


async def inject(
    makers: Sequence[Maker],
    rng: random.Random,
    pace: FaultPace,
    stop: asyncio.Event,
    log: FaultLog,
) -> None:
    """Inject one of ``makers``' faults after a random gap, for a random while, again and
    again until ``stop``; the fault in progress is undone then."""
    while not await stopped(stop, rng.uniform(*pace.gap)):
        fault = rng.choice(makers)(rng)
        started = time.monotonic()
        await fault.begin()
        try:
            await stopped(stop, rng.uniform(*pace.length))
        finally:
            await fault.end()
            log.windows.append(Window(fault.kind, fault.detail, started, time.monotonic()))


# --------------------------------------------------------------------------- OpenRouter


def _llm(fake: FakeOpenRouter, model: str, kind: str, detail: str, scenario: LlmScenario) -> Fault:
    async def begin() -> None:
        fake.set_model_behaviour(model, scenario)

    async def end() -> None:
        fake.set_model_behaviour(model, None)

    return Fault(kind, detail, begin, end)


def openrouter_faults(fake: FakeOpenRouter, model: str, chunks: int) -> list[Maker]:
    """``chunks``: the fake's chunks per answer part (a stream is that many reasoning chunks,
    as many content chunks, finish, usage); cuts fall anywhere in the first two parts."""

    def rate_limited(rng: random.Random) -> Fault:
        wait = rng.randint(1, 5)
        scenario = ErrorReply.rate_limited(retry_after=wait)
        return _llm(fake, model, "OpenRouter 429", f"Retry-After {wait}", scenario)

    def unavailable(rng: random.Random) -> Fault:
        status = rng.choice((502, 503))
        scenario = ErrorReply.bad_gateway() if status == 502 else ErrorReply.unavailable()
        return _llm(fake, model, f"OpenRouter {status}", "", scenario)

    def hang(rng: random.Random) -> Fault:
        seconds = round(rng.uniform(5, 20), 1)
        detail = f"silent {seconds} s before the headers"
        return _llm(fake, model, "OpenRouter hang", detail, Hang(seconds=seconds))

    def error_chunk(rng: random.Random) -> Fault:
        after = rng.randint(1, 2 * chunks)
        scenario = MidStreamError(after_chunks=after)
        return _llm(fake, model, "OpenRouter error mid-stream", f"after {after}", scenario)

    def cut(rng: random.Random) -> Fault:
        after = rng.randint(1, 2 * chunks)
        scenario = Disconnect(after_chunks=after)
        return _llm(fake, model, "OpenRouter cut mid-stream", f"after {after}", scenario)

    def reset(rng: random.Random) -> Fault:
        scenario = Disconnect(before_headers=True)
        return _llm(fake, model, "OpenRouter reset", "before the headers", scenario)

    return [rate_limited, unavailable, hang, error_chunk, cut, reset]


# --------------------------------------------------------------------------- Telegram


def telegram_faults(tg: FakeTelegram) -> list[Maker]:
    def outage(rng: random.Random) -> Fault:
        method = rng.choice(("sendMessage", "editMessageText", "getUpdates"))
        if rng.random() < 0.3:
            kind, code, disconnect = f"Telegram {method} dropped", 502, True
        else:
            code = rng.choice(sorted(TELEGRAM_5XX))
            kind, disconnect = f"Telegram {method} {code}", False

        async def begin() -> None:
            tg.break_method(method, code, TELEGRAM_5XX[code], disconnect=disconnect)

        async def end() -> None:
            tg.repair(method)

        return Fault(kind, "", begin, end)

    def flood(rng: random.Random) -> Fault:
        method = rng.choice(("sendMessage", "editMessageText"))
        wait, times = rng.randint(1, 5), rng.randint(2, 8)

        async def begin() -> None:
            tg.fail(method, retry_after=wait, times=times)

        return Fault(f"Telegram {method} 429", f"{times} calls, retry_after {wait}", begin)

    def unreachable(rng: random.Random) -> Fault:
        return Fault("Telegram unreachable", "", tg.refuse_connections, tg.accept_connections)

    return [outage, outage, flood, unreachable]


# --------------------------------------------------------------------------- Discord


def discord_faults(dc: FakeDiscord) -> list[Maker]:
    def outage(rng: random.Random) -> Fault:
        route = rng.choice((DISCORD_CREATE, DISCORD_EDIT))
        name = "create" if route == DISCORD_CREATE else "edit"
        status, disconnect = rng.choice((500, 502, 503)), rng.random() < 0.3
        kind = f"Discord message {name} " + ("dropped" if disconnect else str(status))

        async def begin() -> None:
            dc.break_route(route, status, disconnect=disconnect)

        async def end() -> None:
            dc.repair_route(route)

        return Fault(kind, "", begin, end)

    def limited(rng: random.Random) -> Fault:
        route = rng.choice((DISCORD_CREATE, DISCORD_EDIT))
        wait, times = round(rng.uniform(0.5, 3.0), 2), rng.randint(2, 8)
        name = "create" if route == DISCORD_CREATE else "edit"

        async def begin() -> None:
            dc.rate_limit(route, wait, times=times)

        return Fault(f"Discord message {name} 429", f"{times} requests, {wait} s", begin)

    def gateway(rng: random.Random) -> Fault:
        async def end() -> None:
            dc.restore_gateway()

        return Fault("Discord gateway down", "", dc.drop_gateway, end)

    return [outage, outage, limited, gateway]
