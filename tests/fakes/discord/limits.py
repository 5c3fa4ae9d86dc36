"""Rate limits as Discord applies them: per-route buckets (fixed windows) and a global limit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .model import Json


@dataclass(frozen=True)
class RateLimits:
    """Window sizes in seconds of the fake's ``clock``.

    ``message_limit`` per ``message_window`` applies to POST and PATCH of messages per channel;
    ``route_limit`` per ``route_window`` to every other route and major parameter; ``global_limit``
    per ``global_window`` to all bot requests except interaction callbacks and webhooks.
    """

    message_limit: int = 5
    message_window: float = 5.0
    route_limit: int = 50
    route_window: float = 1.0
    global_limit: int = 50
    global_window: float = 1.0

    @classmethod
    def off(cls) -> RateLimits:
        """Limits no test reaches (headers are still sent)."""
        big = 1_000_000
        return cls(big, 1.0, big, 1.0, big, 1.0)


@dataclass
class _Window:
    limit: int
    length: float
    started: float
    used: int = 0


@dataclass
class Verdict:
    """What the limiter says about one request: headers to send, and a 429 body if refused."""

    headers: dict[str, str]
    refused: Json | None = None


@dataclass
class RateLimiter:
    limits: RateLimits
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _global: _Window | None = None

    def reset(self) -> None:
        self._windows.clear()
        self._global = None

    def _window(self, key: tuple[str, str], limit: int, length: float, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.started + window.length:
            window = self._windows[key] = _Window(limit, length, now)
        return window

    def check(self, route: str, major: str, *, message_route: bool, exempt: bool) -> Verdict:
        now = self.clock()
        limits = self.limits
        if message_route:
            limit, length = limits.message_limit, limits.message_window
        else:
            limit, length = limits.route_limit, limits.route_window
        bucket = hashlib.sha1(route.encode(), usedforsecurity=False).hexdigest()[:16]
        window = self._window((bucket, major), limit, length, now)
        reset_after = max(window.started + window.length - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Reset": f"{self.wall_clock() + reset_after:.3f}",
        }
        if not exempt:
            glob = self._global
            if glob is None or now >= glob.started + glob.length:
                glob = self._global = _Window(limits.global_limit, limits.global_window, now)
            if glob.used >= glob.limit:
                retry = max(glob.started + glob.length - now, 0.001)
                headers["X-RateLimit-Remaining"] = str(max(limit - window.used, 0))
                headers.update(_refusal_headers(retry, "global"))
                headers["X-RateLimit-Global"] = "true"
                return Verdict(headers, _body(retry, is_global=True))
            glob.used += 1
        if window.used >= limit:
            retry = max(reset_after, 0.001)
            headers["X-RateLimit-Remaining"] = "0"
            headers.update(_refusal_headers(retry, "user"))
            return Verdict(headers, _body(retry, is_global=False))
        window.used += 1
        headers["X-RateLimit-Remaining"] = str(limit - window.used)
        return Verdict(headers)


def _refusal_headers(retry_after: float, scope: str) -> dict[str, str]:
    return {
        "Retry-After": f"{retry_after:.3f}",
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",  # without it discord.py takes a 429 for a Cloudflare ban
    }


def _body(retry_after: float, *, is_global: bool) -> Json:
    return {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }


def refusal(retry_after: float, *, is_global: bool = False, scope: str = "user") -> Verdict:
    """A scripted 429."""
    headers = _refusal_headers(retry_after, "global" if is_global else scope)
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return Verdict(headers, _body(retry_after, is_global=is_global))
