"""OpenTelemetry: a server span per request with the request id, children for the work in
it, streamed spans ending with their stream; real OTLP export from `hypercube serve`."""

from __future__ import annotations

import http.server
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.api import ApiSettings, create_app
from app.api.http import tracing
from app.api.http.server import Server
from app.store import Store
from tests.api_helpers import request, shared_engine, shared_hypercube, stream_lines
from tests.conftest import REPO, make_root

LISTENING = re.compile(r"on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
def traced() -> Iterator[tuple[str, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = Store(shared_hypercube())
    app = create_app(store, shared_engine(), ApiSettings(), plugins=make_root().plugins,
                     tracer_provider=provider)
    server = Server(app, "127.0.0.1", 0, threads=4).start()
    try:
        yield server.url, exporter
    finally:
        server.close()
        app.state.close()
        store.close()
        tracing.install(None)


def _finished(exporter: InMemorySpanExporter, name: str):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_each_request_gets_a_server_span_with_its_request_id(traced) -> None:
    url, exporter = traced
    status, _, _ = request(url, "GET", "/v1/models", headers={"X-Request-Id": "abc-123"})
    assert status == 200
    (span,) = _finished(exporter, "GET /v1/models")
    assert span.attributes["hypercube.request_id"] == "abc-123"
    assert span.attributes["http.route"] == "/v1/models"
    assert span.attributes["http.response.status_code"] == 200
    assert span.kind.name == "SERVER"

    request(url, "GET", "/v1/models/nope")
    (missing,) = _finished(exporter, "GET /v1/models/{model}")
    assert missing.attributes["http.response.status_code"] == 404


def test_work_inside_a_request_is_a_child_span(traced) -> None:
    url, exporter = traced
    status, _, _ = request(url, "GET", "/v1/code/search?q=def")
    assert status == 200
    (server_span,) = _finished(exporter, "GET /v1/code/search")
    (child,) = [s for s in exporter.get_finished_spans() if s.name.startswith("code.")]
    assert child.parent is not None and child.parent.span_id == server_span.context.span_id
    assert child.context.trace_id == server_span.context.trace_id


def test_a_completion_s_engine_work_is_a_child_span(traced) -> None:
    url, exporter = traced
    status, _, _ = request(url, "POST", "/v1/completions",
                           {"model": "hypercube", "prompt": "def ", "max_tokens": 4})
    assert status == 200
    (server_span,) = _finished(exporter, "POST /v1/completions")
    (engine_span,) = [s for s in exporter.get_finished_spans() if s.name == "engine.generate"]
    assert engine_span.parent is not None
    assert engine_span.parent.span_id == server_span.context.span_id
    assert engine_span.attributes["gen_ai.request.max_tokens"] == 4
    assert 0 < engine_span.attributes["gen_ai.usage.output_tokens"] <= 4


def test_a_streamed_response_s_span_ends_with_its_stream(traced) -> None:
    url, exporter = traced
    lines = list(stream_lines(url, "/v1/completions", {
        "model": "hypercube", "prompt": "def ", "max_tokens": 8, "stream": True}))
    assert [line for line in lines if line.strip()][-1].strip() == b"data: [DONE]"
    (span,) = _finished(exporter, "POST /v1/completions")
    assert span.attributes["http.response.status_code"] == 200
    assert span.end_time is not None and span.end_time > span.start_time
    # The engine's part is a child span that lasts as long as the stream's body.
    (engine_span,) = [s for s in exporter.get_finished_spans() if s.name == "engine.stream"]
    assert engine_span.parent is not None
    assert engine_span.parent.span_id == span.context.span_id
    assert engine_span.context.trace_id == span.context.trace_id
    assert 0 < engine_span.attributes["gen_ai.usage.output_tokens"] <= 8
    assert span.start_time < engine_span.start_time < engine_span.end_time <= span.end_time


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            self.received.append(message)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_serve_exports_spans_over_otlp_when_an_endpoint_is_set(tmp_path: Path) -> None:
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "-q",
         "--db", str(shared_hypercube())], cwd=REPO, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HYPERCUBE_OTLP_ENDPOINT": endpoint})
    try:
        assert child.stderr is not None
        match = LISTENING.search(child.stderr.readline())
        assert match
        status, _, _ = request(match.group(1), "GET", "/health",
                               headers={"X-Request-Id": "traced-1"})
        assert status in (200, 503)
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
        collector.shutdown()
        collector.server_close()
    assert child.returncode == 0   # shutting down flushed the batch of spans
    spans = [span for message in _Collector.received for resource in message.resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    health = [s for s in spans if s.name == "GET /health"]
    assert health, [s.name for s in spans]
    attributes = {a.key: a.value.string_value for a in health[0].attributes}
    assert attributes["hypercube.request_id"] == "traced-1"
    service = {a.key: a.value.string_value for message in _Collector.received
               for resource in message.resource_spans for a in resource.resource.attributes}
    assert service["service.name"] == "hypercube"
