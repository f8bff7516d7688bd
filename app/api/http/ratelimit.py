"""Per-client token buckets: a steady request rate with room for short bursts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import falcon

from app.api.http.auth import is_open
from app.errors import RateLimited

# Forget idle clients once this many are tracked, so random keys cannot grow memory.
_MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """``rate`` tokens per second refill each client's bucket of ``burst`` tokens."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token; return 0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= _MAX_CLIENTS:
                    self._forget_idle(now)
                bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        for client in [c for c, b in self._buckets.items() if now - b.stamp >= full_after]:
            del self._buckets[client]
        if len(self._buckets) >= _MAX_CLIENTS:  # all busy: drop the oldest half
            for client, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].stamp)[
                    : _MAX_CLIENTS // 2]:
                del self._buckets[client]


class RateLimit:
    """429 ``rate_limit_exceeded`` with Retry-After once a client's bucket is empty.

    Clients are told apart by API key when keys are in use, else by address.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.buckets = TokenBuckets(rate, burst)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if is_open(req.path) or req.method == "OPTIONS":
            return
        client = req.context.get("key_id") or f"addr_{req.remote_addr}"
        wait = self.buckets.take(client)
        if wait > 0:
            raise RateLimited(
                f"Rate limit reached: {self.buckets.rate:g} requests per second with bursts "
                f"of {self.buckets.burst}. Please try again in {wait:.2f}s.",
                retry_after=wait,
            )
