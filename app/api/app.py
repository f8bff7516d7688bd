"""The app factory: every collaborator passed in, every route in one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import falcon
import falcon.media
import orjson

from app.api.config import ApiSettings
from app.api.dialects.errors import DialectErrors
from app.api.dialects.routes import dialect_routes
from app.api.http import errors, tracing
from app.api.http.auth import ApiKeyAuth
from app.api.http.health import HealthResource
from app.api.http.metrics import ApiMetrics, MetricsMiddleware, MetricsResource
from app.api.http.middleware import HostGuard, RequestContext, RequestLimits
from app.api.http.ratelimit import RateLimit
from app.api.http.tracing import TracingMiddleware
from app.api.http.usage import UsageMiddleware, UsageResource
from app.api.ingest import (
    IngestCancelResource,
    IngestEventsResource,
    IngestResource,
    IngestRunResource,
)
from app.api.ingest_jobs import EngineLoader, IngestManager
from app.api.jobs.batch_worker import BatchWorker
from app.api.jobs.batches import BatchCancelResource, BatchesResource, BatchResource
from app.api.jobs.completions_batch import CompletionsBatchResource
from app.api.jobs.dispatch import Services
from app.api.jobs.files import FileContentResource, FileResource, FilesResource
from app.api.jobs.records import ApiRecords
from app.api.native.code import CODE_READERS, QUERIES, CodeQueryResource, QueryGate
from app.api.native.hypercube import PointResource, PointsResource, StatsResource
from app.api.native.tokenize import DetokenizeResource, TokenizeResource
from app.api.openai.chat import ChatCompletions
from app.api.openai.completions import Completions
from app.api.openai.embeddings import Embeddings, EmbeddingsResource
from app.api.openai.generation_resource import GenerationResource
from app.api.openai.models import ModelResource, ModelsResource
from app.api.openai.openapi_doc import OpenApiResource
from app.api.openai.vectors import EmbedderCache
from app.api.runtime.engine_slot import EngineSlot
from app.code import CodeIndex
from app.engine.types import EngineProtocol
from app.errors import ReadOnly
from app.grounded import GroundedChat
from app.ingest import IngestPlugins
from app.store import Store
from app.store.pool import Pool
from app.ui import add_ui_routes

if TYPE_CHECKING:
    # Falcon names the middleware type only in its private typing module.
    from falcon._typing import SyncMiddleware
    from opentelemetry.sdk.trace import TracerProvider

# Run ids are SQLite integers: a larger number in the URL is an unknown URL (404), not a 500.
RUN = f"{{run_id:int(min=0, max={2**63 - 1})}}"
# Read connections for the picture and the statistics (each request holds one briefly).
HYPERCUBE_READERS = 2
# What a read-only server (``serve --read-only``) answers where it would have to write.
READ_ONLY_MESSAGE = (
    "this server serves a read-only hypercube (`hypercube serve --read-only`): {what} "
    "need a writable one — use the server that ingests, or serve a writable copy")


@dataclass
class ApiState:
    """What runs beside the request handlers and must be started and stopped with them."""

    slot: EngineSlot
    metrics: ApiMetrics
    records: ApiRecords | None      # None on a read-only server, as are the next two
    batches: BatchWorker | None
    ingest: IngestManager | None
    readers: Pool[Store]
    code_indexes: Pool[CodeIndex]
    # What the app's owner opened for it and wants closed with it (a replica's store).
    extra_close: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        if self.batches is not None:
            self.batches.stop()
        if self.ingest is not None:
            self.ingest.close()
        if self.records is not None:
            self.records.close()
        self.code_indexes.close()
        self.readers.close()
        for close in self.extra_close:
            close()


class ApiApp(falcon.App):
    """Falcon's app with the :class:`ApiState` it serves from."""

    state: ApiState


def create_app(store: Store, engine: EngineProtocol | EngineSlot | None,
               settings: ApiSettings, *, plugins: IngestPlugins,
               loader: EngineLoader | None = None, tracer_provider: TracerProvider | None = None,
               read_only: bool = False) -> ApiApp:
    """The WSGI app serving ``store`` with ``engine``.

    Args:
        store: the hypercube the engine was loaded from; files, batches and ingest runs are
            recorded in it.
        engine: the engine, or an :class:`EngineSlot` that a loader fills later (the server
            then answers ``/health`` with ``loading`` and generation requests with 503).
        settings: keys, CORS, rate limits and body limits.
        plugins: what an ingest run over HTTP runs (:attr:`app.compose.Root.plugins`).
        loader: loads a fresh engine from the file after an ingest run changed it.
        tracer_provider: where request spans go (None: tracing off, see app/api/http/tracing.py).
        read_only: never write to ``store`` (``serve --read-only``): files, batches and
            ingestion answer 403 ``read_only`` (:class:`ReadOnlyResource`).

    The app's :class:`ApiState` is ``app.state``; call ``app.state.close()`` when done.
    """
    slot = engine if isinstance(engine, EngineSlot) else EngineSlot(engine)
    path = Path(store.path)
    metrics = ApiMetrics()
    # Grounded chat reads the code index through its own connection (one question at a time).
    grounded = GroundedChat.open(path)
    grounded.start_warming()
    chat = ChatCompletions(metrics, settings.chat_max_tokens or None, grounded)
    services = Services(Completions(metrics), chat,
                        Embeddings(EmbedderCache(str(path)), metrics))
    records = None if read_only else ApiRecords(path)
    worker = None if records is None else BatchWorker(records, slot, services)
    ingest = None if read_only else IngestManager(path, slot, loader, plugins)
    # Reads beside generation go through pools of read connections (app/store/pool.py): code
    # queries hold theirs for a whole query, so they get their own.
    readers = Pool(lambda: Store(path, readonly=True), Store.close, HYPERCUBE_READERS)
    code_indexes = Pool(lambda: CodeIndex(Store(path, readonly=True)),
                        lambda index: index.store.close(), CODE_READERS)
    code_gate = QueryGate()

    middleware: list[SyncMiddleware[falcon.Request, falcon.Response]] = [
        RequestContext(settings.max_body_bytes, settings.max_json_bytes,
                       settings.max_request_tokens),
        MetricsMiddleware(metrics),
        DialectErrors(),
    ]
    if tracer_provider is not None:
        tracing.install(tracer_provider)
        middleware.append(TracingMiddleware(tracer_provider))
    middleware.append(HostGuard(settings.bind_host, settings.allowed_hosts,
                                settings.cors_origins))
    if settings.cors_origins:
        middleware.append(falcon.CORSMiddleware(
            allow_origins=list(settings.cors_origins),
            expose_headers=["x-request-id", "retry-after", "retry-after-ms"]))
    if settings.api_keys:
        middleware.append(ApiKeyAuth(settings.api_keys, settings.admin_keys))
    middleware.append(UsageMiddleware(metrics.usage))   # after auth: it names the key
    if settings.rate_limit > 0:
        middleware.append(RateLimit(settings.rate_limit, settings.rate_burst))
    middleware.append(RequestLimits(settings.max_body_bytes, settings.max_json_bytes))

    app = ApiApp(middleware=middleware)
    multipart = falcon.media.MultipartFormHandler()
    multipart.parse_options.max_body_part_buffer_size = settings.max_body_bytes
    handlers = falcon.media.Handlers({
        falcon.MEDIA_JSON: json_handler(),
        falcon.MEDIA_MULTIPART: multipart,
    })
    app.req_options.media_handlers = handlers
    app.resp_options.media_handlers = falcon.media.Handlers({falcon.MEDIA_JSON: json_handler()})
    errors.install(app)

    completions = GenerationResource(slot, services.completions)
    routes: list[tuple[str, object]] = [
        ("/health", HealthResource(slot, path,
                                   workers=() if worker is None else (worker.status,))),
        ("/metrics", MetricsResource(metrics)),
        ("/v1/usage", UsageResource(metrics.usage)),
        ("/openapi.json", OpenApiResource()),
        ("/v1/models", ModelsResource(slot)),
        ("/v1/models/{model}", ModelResource(slot)),
        ("/v1/completions", completions),
        ("/v1/engines/{model}/completions", completions),
        ("/v1/completions/batch", CompletionsBatchResource(slot, services.completions)),
        ("/v1/chat/completions", GenerationResource(slot, services.chat)),
        ("/v1/embeddings", EmbeddingsResource(slot, services.embeddings)),
        ("/tokenize", TokenizeResource(slot)),
        ("/detokenize", DetokenizeResource(slot)),
        *dialect_routes(slot, services, path),  # Ollama, llama.cpp, Responses, harnesses
        *_writing_routes(records, worker, ingest, settings.ingest_roots),
        ("/v1/hypercube/stats", StatsResource(readers)),
        ("/v1/hypercube/points", PointsResource(readers)),
        ("/v1/hypercube/points/{point_id}", PointResource(readers)),
        *((f"/v1/code/{name}", CodeQueryResource(code_indexes, name, code_gate))
          for name in QUERIES),
    ]
    for template, resource in routes:
        app.add_route(template, resource)
    add_ui_routes(app)  # the web UI at / (app/ui)

    if worker is not None:
        worker.start()
    app.state = ApiState(slot, metrics, records, worker, ingest, readers, code_indexes,
                         [grounded.close])
    return app


def _writing_routes(records: ApiRecords | None, worker: BatchWorker | None,
                    ingest: IngestManager | None,
                    ingest_roots: tuple[Path, ...]) -> list[tuple[str, object]]:
    """Files, batches and ingestion: the routes that write to the hypercube, or on a
    read-only server the same routes refusing with the reason."""
    if records is None or worker is None or ingest is None:
        files, batches = ReadOnlyResource("files"), ReadOnlyResource("batches")
        ingesting = ReadOnlyResource("ingestion")
        return [
            *((t, files) for t in ("/v1/files", "/v1/files/{file_id}",
                                   "/v1/files/{file_id}/content")),
            *((t, batches) for t in ("/v1/batches", "/v1/batches/{batch_id}",
                                     "/v1/batches/{batch_id}/cancel")),
            *((t, ingesting) for t in ("/v1/ingest", f"/v1/ingest/{RUN}",
                                       f"/v1/ingest/{RUN}/events",
                                       f"/v1/ingest/{RUN}/cancel")),
        ]
    return [
        ("/v1/files", FilesResource(records)),
        ("/v1/files/{file_id}", FileResource(records)),
        ("/v1/files/{file_id}/content", FileContentResource(records)),
        ("/v1/batches", BatchesResource(records, worker)),
        ("/v1/batches/{batch_id}", BatchResource(records)),
        ("/v1/batches/{batch_id}/cancel", BatchCancelResource(records)),
        ("/v1/ingest", IngestResource(ingest, ingest_roots)),
        (f"/v1/ingest/{RUN}", IngestRunResource(ingest)),
        (f"/v1/ingest/{RUN}/events", IngestEventsResource(ingest)),
        (f"/v1/ingest/{RUN}/cancel", IngestCancelResource(ingest)),
    ]


class ReadOnlyResource:
    """A writing route of a read-only server, refusing every method with 403 ``read_only``.

    A replica serves a snapshot from a read-only mount: uploads, batches and ingestion would
    all write to the hypercube, so their routes stay in place (clients get a clear reason,
    not a 404 that suggests a wrong URL).
    """

    accepts = ()

    def __init__(self, what: str) -> None:
        self.what = what

    def _refuse(self, req: falcon.Request, resp: falcon.Response, **_: object) -> None:
        raise ReadOnly(READ_ONLY_MESSAGE.format(what=self.what))

    on_get = on_post = on_put = on_patch = on_delete = _refuse


def json_handler() -> falcon.media.JSONHandler:
    """orjson for Falcon's JSON media: several times faster than the standard library's
    json. Falcon sees that orjson.dumps returns bytes and skips its own encoding step."""
    return falcon.media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)
