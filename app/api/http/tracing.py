"""OpenTelemetry tracing: one span per HTTP request, children for the work inside it.

Off unless an OTLP endpoint is configured (``HYPERCUBE_OTLP_ENDPOINT`` / ``--otlp-endpoint``):
then no middleware is installed and :func:`span` hands out the API's no-op spans, so an
untraced server pays nothing per request beyond one function call where work is traced.

On, each request gets a server span named ``METHOD /route/{template}`` carrying the HTTP
semantic-convention attributes and our ``hypercube.request_id`` (the ``x-request-id`` the
client sees), kept current while the handler runs so the engine's and the store's spans
(:func:`span`) become its children. A streamed response's span ends when its last chunk has
been sent, so its duration is the stream's. Spans leave the process through a batch
processor (export happens off the request threads) to the OTLP/HTTP endpoint, e.g. an
OpenTelemetry Collector or Jaeger's OTLP port. Prompts, completions and keys are never put
on spans.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import falcon
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from app import __version__
from app.api.http.finishing import when_finished

if TYPE_CHECKING:
    # The SDK (and the exporter) load only when tracing is on: an untraced server, the
    # default, starts without them (~40 ms of imports).
    from opentelemetry.sdk.trace import TracerProvider

SCOPE = "hypercube"


def otlp_provider(endpoint: str) -> TracerProvider:
    """A provider exporting over OTLP/HTTP to ``endpoint`` (``http://host:4318`` or the full
    ``…/v1/traces`` URL)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create(
        {"service.name": "hypercube", "service.version": __version__}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return provider


_tracer: trace.Tracer = trace.NoOpTracer()


def install(provider: TracerProvider | None) -> None:
    """Trace this process's work into ``provider`` (None turns tracing off again)."""
    global _tracer
    _tracer = trace.NoOpTracer() if provider is None else provider.get_tracer(SCOPE,
                                                                              __version__)


def open_span(name: str, context: otel_context.Context | None = None,
              **attributes: Any) -> trace.Span:
    """A child span of the request whose ``context`` this is (by default the current one)
    that outlives this call, as a stream's does; the caller ends it."""
    return _tracer.start_span(name, context=context, attributes=attributes or None)


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A child span of the current request (a no-op span when tracing is off)."""
    with _tracer.start_as_current_span(name, attributes=attributes or None) as current:
        yield current


class TracingMiddleware:
    """Opens the server span of each request and closes it when the response is done."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer(SCOPE, __version__)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        current = self._tracer.start_span(req.method, kind=SpanKind.SERVER, attributes={
            "http.request.method": req.method,
            "url.path": req.path,
            "url.scheme": req.scheme,
            "server.port": req.port,
            "network.peer.address": req.remote_addr or "",
            "user_agent.original": req.user_agent or "",
        })
        request_id = req.context.get("request_id")
        if request_id:
            current.set_attribute("hypercube.request_id", request_id)
        req.context.trace_span = current
        req.context.trace_token = otel_context.attach(trace.set_span_in_context(current))

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, params: dict[str, Any]) -> None:
        current = req.context.get("trace_span")
        if current is not None and req.uri_template:
            current.update_name(f"{req.method} {req.uri_template}")
            current.set_attribute("http.route", req.uri_template)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        current = req.context.get("trace_span")
        if current is None:
            return
        token = req.context.get("trace_token")
        if token is not None:
            otel_context.detach(token)
        status = int(resp.status_code)
        current.set_attribute("http.response.status_code", status)
        if status >= 500:
            current.set_status(Status(StatusCode.ERROR))
        error = req.context.get("error")
        if error is not None:
            current.set_attribute("error.type", str(error[0]))
        when_finished(resp, current.end)
