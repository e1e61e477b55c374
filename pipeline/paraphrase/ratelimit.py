"""The LLM account's requests- and tokens-per-minute limits, shared by every worker on every machine.

With a Redis URL (PARAPHRASE_RATE_LIMIT_URL, by default the Celery broker's when that is Redis) the
limits live in Redis through the `limits` library (alisaifee/limits, the rate limiter behind
Flask-Limiter and slowapi): requests use its moving window, an exact log of the last window's grants,
checked and appended in one Lua script, so N workers together never pass the account's requests per
minute; tokens use its sliding-window counter (two counters per window, O(1) however many tokens a
minute allows; an estimate that weights the previous window). A worker that is refused waits until
the window frees room (the library's reset time, with jitter so that waiters do not wake together).

Without Redis (`make run`'s filesystem broker: one machine, usually one worker) each process keeps its
own leaky buckets (aiolimiter), as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from typing import Protocol

from aiolimiter import AsyncLimiter
from django.conf import settings


class Limiter(Protocol):
    async def acquire(self, tokens: int) -> None: ...

    async def close(self) -> None: ...


class LocalLimiter:
    """Per-process leaky buckets: the fallback when no Redis is configured."""

    def __init__(self, requests_per_window: int, tokens_per_window: int, window_seconds: float = 60) -> None:
        self.requests = AsyncLimiter(requests_per_window, window_seconds) if requests_per_window else None
        self.tokens = AsyncLimiter(tokens_per_window, window_seconds) if tokens_per_window else None

    async def acquire(self, tokens: int) -> None:
        if self.requests:
            await self.requests.acquire()
        if self.tokens and tokens:
            await self.tokens.acquire(min(tokens, self.tokens.max_rate))

    async def close(self) -> None:
        return None


class SharedLimiter:
    """The limits in Redis, keyed by the account (a hash of endpoint and key, never the key itself)."""

    MAX_NAP = 5.0

    def __init__(
        self, url: str, account: str, requests_per_window: int, tokens_per_window: int, window_seconds: int = 60
    ) -> None:
        from limits import RateLimitItemPerSecond
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

        async_url = url if url.startswith("async+") else f"async+{url}"
        self.storage = RedisStorage(async_url, implementation="redispy", key_prefix="m3it-llm")
        self.account = account
        self.requests = MovingWindowRateLimiter(self.storage) if requests_per_window else None
        self.tokens = SlidingWindowCounterRateLimiter(self.storage) if tokens_per_window else None
        self.request_item = RateLimitItemPerSecond(requests_per_window or 1, window_seconds)
        self.token_item = RateLimitItemPerSecond(tokens_per_window or 1, window_seconds)

    async def _take(self, limiter: object, item: object, cost: int) -> None:
        while not await limiter.hit(item, self.account, cost=cost):  # type: ignore[attr-defined]
            stats = await limiter.get_window_stats(item, self.account)  # type: ignore[attr-defined]
            nap = min(max(stats.reset_time - time.time(), 0.01), self.MAX_NAP)
            await asyncio.sleep(nap * random.uniform(1.0, 1.25))

    async def acquire(self, tokens: int) -> None:
        if self.requests:
            await self._take(self.requests, self.request_item, 1)
        if self.tokens and tokens:
            await self._take(self.tokens, self.token_item, min(tokens, self.token_item.amount))

    async def close(self) -> None:
        # The redis.asyncio client the library made (its bridge's `storage`): closed on this event loop,
        # which ends with the run.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()


def shared_url() -> str:
    """Where the shared limits live: PARAPHRASE_RATE_LIMIT_URL, else the broker when it is Redis, else ""."""
    url = getattr(settings, "PARAPHRASE_RATE_LIMIT_URL", "") or ""
    if url:
        return url
    broker = settings.CELERY_BROKER_URL or ""
    return broker if broker.startswith(("redis://", "rediss://")) else ""


def account_key(base_url: str | None, api_key: str) -> str:
    return hashlib.sha256(f"{base_url or 'openai'}\n{api_key}".encode()).hexdigest()[:24]


def make_limiter(
    requests_per_minute: int,
    tokens_per_minute: int,
    base_url: str | None,
    api_key: str,
    url: str | None = None,
    window_seconds: int = 60,
) -> Limiter | None:
    """The shared limiter when a Redis URL is known, the per-process one otherwise; None without limits.

    The limits are per `window_seconds` (60: per minute); tests shorten the window."""
    if not requests_per_minute and not tokens_per_minute:
        return None
    url = shared_url() if url is None else url
    if url:
        account = account_key(base_url, api_key)
        return SharedLimiter(url, account, requests_per_minute, tokens_per_minute, window_seconds)
    return LocalLimiter(requests_per_minute, tokens_per_minute, window_seconds)
