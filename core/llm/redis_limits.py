"""RedisLimitStore: core.llm.shared.LimitStore on Redis (``REDIS_URL``).

A window's grant is one Lua script (atomic on the server): it drops the starts outside the
window and the tickets not refreshed for ``TICKET_TIMEOUT_SECONDS``, refreshes the caller's
tickets, adds its ticket (numbered by a shared counter: the arrival order of all replicas) and
grants a start to the oldest ticket while the window has room. Cool-downs are one script too;
the free quota and reads are MULTI/EXEC transactions. Every key starts with ``prefix``
(``chatrelay:`` by default) and has a TTL, so nothing outlives its use.

Keys of a window ``<p>limits:w:<key>:``: ``starts`` (zset ticket -> time), ``stok`` (hash
ticket -> tokens), ``queue`` (zset ticket -> number), ``tinfo`` (hash ticket ->
"owner|tokens|seen"); ``<p>limits:seq`` numbers the tickets, ``<p>limits:cooling`` is a hash
key -> end time, ``<p>limits:day:<YYYY-MM-DD>`` a hash used / limit / exhausted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import translating
from core.llm.shared import (
    TICKET_TIMEOUT_SECONDS,
    FreeDay,
    LimitStore,
    SharedState,
    Take,
    Ticket,
    WindowRule,
    WindowState,
)
from core.llm.window import Start, capped_tokens

DAY_TTL_SECONDS: Final = 2 * 86400
KEEP_SECONDS: Final = 60  # extra life of a window's keys after their last use

TAKE: Final = """
local now, id, owner, tokens = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local requests, limit, seconds = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local timeout, ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - seconds)) do
  redis.call('HDEL', KEYS[2], member)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - seconds)
local queue, present = {}, false
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local info = redis.call('HGET', KEYS[4], member) or ''
  local o, t, seen = string.match(info, '^([^|]*)|([^|]*)|([^|]*)$')
  if o == nil or (o ~= owner and tonumber(seen) < now - timeout) then
    redis.call('ZREM', KEYS[3], member)
    redis.call('HDEL', KEYS[4], member)
  else
    if o == owner then redis.call('HSET', KEYS[4], member, o .. '|' .. t .. '|' .. ARGV[1]) end
    if member == id then present = true end
    table.insert(queue, {member, o, t})
  end
end
if not present then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), id)
  redis.call('HSET', KEYS[4], id, owner .. '|' .. ARGV[4] .. '|' .. ARGV[1])
  table.insert(queue, {id, owner, ARGV[4]})
end
local flat = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local ats, toks = {}, {}
for i = 1, #flat, 2 do
  table.insert(ats, flat[i + 1])
  table.insert(toks, redis.call('HGET', KEYS[2], flat[i]) or '0')
end
local granted = 0
if queue[1][1] == id then
  local capped = 0
  if limit > 0 then capped = math.min(math.max(tokens, 0), limit) end
  local earliest, n = now, #ats
  if requests > 0 and n >= requests then
    earliest = math.max(earliest, tonumber(ats[n - requests + 1]) + seconds)
  end
  if limit > 0 then
    local total = capped
    for i = n, 1, -1 do
      total = total + tonumber(toks[i])
      if total > limit then earliest = math.max(earliest, tonumber(ats[i]) + seconds) break end
    end
  end
  if earliest <= now then
    granted = 1
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('HSET', KEYS[2], id, capped)
    redis.call('ZREM', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    table.remove(queue, 1)
    table.insert(ats, ARGV[1])
    table.insert(toks, tostring(capped))
  end
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
redis.call('EXPIRE', KEYS[5], 86400)
local out = {granted, #ats}
for i = 1, #ats do table.insert(out, ats[i]) table.insert(out, toks[i]) end
for _, ticket in ipairs(queue) do
  table.insert(out, ticket[1]) table.insert(out, ticket[2]) table.insert(out, ticket[3])
end
return out
"""

COOL: Final = """
local now, untl = tonumber(ARGV[2]), tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local last = untl
for i = 1, #all, 2 do
  local ends = tonumber(all[i + 1])
  if ends <= now then redis.call('HDEL', KEYS[1], all[i]) elseif ends > last then last = ends end
end
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
if current == nil or current < untl then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('EXPIRE', KEYS[1], math.max(math.ceil(last - now), 1) + 1)
return 1
"""

# Redis and network failures become InfrastructureError (no keys, no values).
translated = translating((RedisError, OSError), "redis (limits)")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLimitStore:
    """The client belongs to the caller (one per process, closed at shutdown)."""

    def __init__(self, client: Redis, prefix: str = "chatrelay:") -> None:
        self._redis = client
        self._prefix = f"{prefix}limits:"
        self._take = client.register_script(TAKE)
        self._cool = client.register_script(COOL)

    @translated
    async def take(self, rule: WindowRule, ticket: Ticket, now: float) -> Take:
        ttl = math.ceil(rule.seconds + TICKET_TIMEOUT_SECONDS) + KEEP_SECONDS
        args: list[str | int] = [
            repr(now),
            ticket.id,
            ticket.owner,
            ticket.tokens,
            rule.requests,
            rule.tokens,
        ]
        args += [repr(rule.seconds), repr(TICKET_TIMEOUT_SECONDS), ttl]
        keys = [*self._window_keys(rule), f"{self._prefix}seq"]
        reply = await self._take(keys=keys, args=args)
        granted, count = int(reply[0]), int(reply[1])
        flat = [_text(value) for value in reply[2:]]
        starts = tuple(
            (float(flat[2 * i]), int(flat[2 * i + 1])) for i in range(count)
        )  # ascending: the zset's order, a new grant last (the latest time)
        rest = flat[2 * count :]
        queue = tuple(
            Ticket(rest[i], rest[i + 1], int(rest[i + 2])) for i in range(0, len(rest), 3)
        )
        return Take(bool(granted), WindowState(starts, queue))

    @translated
    async def withdraw(self, rule: WindowRule, ticket: str) -> None:
        keys = self._window_keys(rule)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys[2], ticket)
            pipe.hdel(keys[3], ticket)
            await pipe.execute()

    @translated
    async def release(self, rule: WindowRule, ticket: str) -> None:
        keys = self._window_keys(rule)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys[0], ticket)
            pipe.hdel(keys[1], ticket)
            await pipe.execute()

    @translated
    async def record(self, rule: WindowRule, ticket: str, tokens: int, now: float) -> None:
        keys = self._window_keys(rule)
        ttl = math.ceil(rule.seconds + TICKET_TIMEOUT_SECONDS) + KEEP_SECONDS
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys[0], {ticket: now})
            pipe.hset(keys[1], ticket, capped_tokens(tokens, rule.tokens))
            pipe.expire(keys[0], ttl)
            pipe.expire(keys[1], ttl)
            await pipe.execute()

    @translated
    async def cool(self, key: str, until: float, now: float) -> None:
        await self._cool(keys=[f"{self._prefix}cooling"], args=[key, repr(now), repr(until)])

    @translated
    async def count_free(self, day: date) -> FreeDay:
        key = self._day_key(day)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "used", 1)
            pipe.expire(key, DAY_TTL_SECONDS)
            pipe.hgetall(key)
            replies = await pipe.execute()
        return _free_day(day, replies[2])

    @translated
    async def set_free(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None:
        fields: dict[str, int] = {}
        if used is not None:
            fields["used"] = used
        if limit is not None:
            fields["limit"] = limit
        if exhausted is not None:
            fields["exhausted"] = int(exhausted)
        if not fields:
            return
        key = self._day_key(day)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, DAY_TTL_SECONDS)
            await pipe.execute()

    @translated
    async def read(self, rules: Sequence[WindowRule], day: date, now: float) -> SharedState:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(f"{self._prefix}cooling")
            pipe.hgetall(self._day_key(day))
            for rule in rules:
                keys = self._window_keys(rule)
                pipe.zrangebyscore(keys[0], f"({now - rule.seconds!r}", "+inf", withscores=True)
                pipe.hgetall(keys[1])
                pipe.zrange(keys[2], 0, -1)
                pipe.hgetall(keys[3])
            replies = await pipe.execute()
        cooling = {_text(k): float(v) for k, v in replies[0].items() if float(v) > now}
        windows = {}
        for n, rule in enumerate(rules):
            starts, stok, queue, tinfo = replies[2 + 4 * n : 6 + 4 * n]
            windows[rule.key] = _window_state(starts, stok, queue, tinfo, now)
        return SharedState(cooling, _free_day(day, replies[1]), windows)

    async def aclose(self) -> None:
        return None  # the client belongs to whoever created it

    def _window_keys(self, rule: WindowRule) -> list[str]:
        base = f"{self._prefix}w:{rule.key}:"
        return [f"{base}starts", f"{base}stok", f"{base}queue", f"{base}tinfo"]

    def _day_key(self, day: date) -> str:
        return f"{self._prefix}day:{day.isoformat()}"


def _free_day(day: date, fields: dict[bytes | str, bytes | str]) -> FreeDay:
    values = {_text(k): _text(v) for k, v in fields.items()}
    limit = values.get("limit")
    return FreeDay(
        day,
        int(values.get("used", 0)),
        None if limit is None else int(limit),
        values.get("exhausted") == "1",
    )


def _window_state(
    starts: list[tuple[bytes | str, float]],
    stok: dict[bytes | str, bytes | str],
    queue: list[bytes | str],
    tinfo: dict[bytes | str, bytes | str],
    now: float,
) -> WindowState:
    tokens = {_text(k): int(_text(v)) for k, v in stok.items()}
    booked: list[Start] = [(at, tokens.get(_text(member), 0)) for member, at in starts]
    info = {_text(k): _text(v).split("|") for k, v in tinfo.items()}
    waiting = []
    for member in map(_text, queue):
        parts = info.get(member)
        if parts is None or len(parts) != 3 or float(parts[2]) < now - TICKET_TIMEOUT_SECONDS:
            continue
        waiting.append(Ticket(member, parts[0], int(parts[1])))
    return WindowState(tuple(booked), tuple(waiting))


if TYPE_CHECKING:

    def _conforms(store: RedisLimitStore) -> LimitStore:  # mypy checks the class against the port
        return store
