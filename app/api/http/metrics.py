"""Prometheus metrics: requests, latency, tokens, errors, in-flight, and the ``/metrics`` page.

Each app gets its own registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

import time

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from app.api.http.finishing import when_finished
from app.api.http.usage import UsageLedger

# Label values come from these sets only: a label per arbitrary method or URL would let any
# client grow /metrics (and the server's memory) without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0)


class ApiMetrics:
    """The server's instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hypercube_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("hypercube_http_request_duration_seconds",
                                 "Time from request to the end of the response body",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("hypercube_http_requests_in_flight",
                               "Requests being answered, open streams included", registry=r)
        self.errors = Counter("hypercube_errors", "Error responses by OpenAI error type",
                              ["type", "code"], registry=r)
        self.tokens = Counter("hypercube_tokens", "Tokens read (prompt) and generated "
                              "(completion)", ["direction"], registry=r)
        self.first_token = Histogram("hypercube_time_to_first_chunk_seconds",
                                     "Time from request to the first streamed content",
                                     buckets=_LATENCY_BUCKETS, registry=r)
        self.cancelled = Counter("hypercube_generations_cancelled",
                                 "Generations stopped because the client went away",
                                 registry=r)
        self.usage = UsageLedger(r)

    def count_tokens(self, prompt: int, completion: int) -> None:
        self.tokens.labels("prompt").inc(prompt)
        self.tokens.labels("completion").inc(completion)
        self.usage.count_tokens(prompt, completion)


class MetricsMiddleware:
    """Counts every request once its response (stream included) is over."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.get_header("X-Hypercube-UI") == "poll":
            return  # the UI's own background polling (health, metrics, progress) is not traffic
        req.context.metrics_started = time.perf_counter()
        self.metrics.in_flight.inc()

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        if "metrics_started" not in req.context:
            return
        # uri_template is one of our route templates, or None for a URL no route matched.
        route = req.uri_template or OTHER
        method = req.method if req.method in KNOWN_METHODS else OTHER

        def record() -> None:
            m = self.metrics
            m.in_flight.dec()
            m.requests.labels(method, route, str(resp.status_code)).inc()
            m.latency.labels(route).observe(time.perf_counter() - req.context.metrics_started)
            error = req.context.get("error")
            if error is not None:
                m.errors.labels(error[0], error[1] or "").inc()

        when_finished(resp, record)


class MetricsResource:
    accepts = ()

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = generate_latest(self.metrics.registry)
        resp.content_type = CONTENT_TYPE_LATEST
