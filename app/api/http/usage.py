"""Usage per API key: requests and tokens in and out, in ``/metrics`` and ``GET /v1/usage``.

Who used how much is what an operator of a shared endpoint bills or limits by. Each request
is attributed to the key it authenticated with — by its key id (``key_…``, a hash prefix:
never the key itself) — or to ``anonymous`` on a server without keys, so the label set is
bounded by the configured keys. Token counts come from the same place as the usage objects
of the responses (the services call :meth:`ApiMetrics.count_tokens`); the key of the
request being answered travels with it in a context variable set by
:class:`UsageMiddleware`, so streamed responses, which count their tokens while the body is
sent, are attributed too. Batches run by the server's worker count as ``batch``.

Totals are since the server started (Prometheus counters are; scrape ``/metrics`` to keep
history). When keys are set, ``GET /v1/usage`` shows an admin key every key's row and a
client key only its own: one tenant of a shared endpoint does not learn what the others use.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

import falcon
from prometheus_client import CollectorRegistry, Counter

from app.ui import is_ui_path

ANONYMOUS = "anonymous"
BATCH = "batch"
# Requests of these paths are the server's own plumbing, not usage.
_NOT_USAGE = frozenset({"/health", "/metrics", "/openapi.json", "/v1/usage"})

current_key: ContextVar[str] = ContextVar("hypercube_usage_key", default=BATCH)


class UsageLedger:
    """Per-key counters, exported to Prometheus and kept for ``/v1/usage``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter("hypercube_key_requests", "API requests per API key",
                                 ["key"], registry=registry)
        self._tokens = Counter("hypercube_key_tokens", "Tokens read (prompt) and generated "
                               "(completion) per API key", ["key", "direction"],
                               registry=registry)
        self._totals: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def count_request(self, key: str) -> None:
        self._requests.labels(key).inc()
        with self._lock:
            self._totals.setdefault(key, [0, 0, 0])[0] += 1

    def count_tokens(self, prompt: int, completion: int) -> None:
        key = current_key.get()
        self._tokens.labels(key, "prompt").inc(prompt)
        self._tokens.labels(key, "completion").inc(completion)
        with self._lock:
            totals = self._totals.setdefault(key, [0, 0, 0])
            totals[1] += prompt
            totals[2] += completion

    def report(self, only: str | None = None) -> list[dict[str, Any]]:
        """Every key's totals, or only those of key id ``only``."""
        with self._lock:
            return [{"object": "usage", "key": key, "requests": requests,
                     "prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}
                    for key, (requests, prompt, completion) in sorted(self._totals.items())
                    if only is None or key == only]


class UsageMiddleware:
    """Attributes each API request to its key (after authentication has named it)."""

    def __init__(self, ledger: UsageLedger) -> None:
        self.ledger = ledger

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in _NOT_USAGE or is_ui_path(req.path) or req.method == "OPTIONS":
            return
        key = req.context.get("key_id") or ANONYMOUS
        current_key.set(key)
        self.ledger.count_request(key)


class UsageResource:
    """``GET /v1/usage``: requests and tokens per key since the server started."""

    accepts = ()

    def __init__(self, ledger: UsageLedger) -> None:
        self.ledger = ledger

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = req.context.get("key_id")
        # No key: a keyless server, where every request is "anonymous" and the report is whole.
        only = key if key is not None and not req.context.get("admin") else None
        resp.media = {"object": "list", "data": self.ledger.report(only)}
