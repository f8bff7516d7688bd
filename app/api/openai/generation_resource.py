"""The one HTTP resource of the OpenAI generation endpoints: ``/v1/completions`` (and
``/v1/engines/{model}/completions``) and ``/v1/chat/completions``.

Both answer a request the same way: read the JSON body, take the engine, parse the body
into the service's request, refuse it if it asks for more work than ``--max-request-tokens``
allows, watch the client, then stream the answer as server-sent events or respond with one
JSON object. Only the service differs (what a body means, how much work it asks for, how it
is answered), so the resource is written once over :class:`GenerationService`.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, Generic, Protocol, TypeVar

import falcon

from app.api.http import sse
from app.api.http.body import read_json
from app.api.http.metrics import ApiMetrics
from app.api.http.watch import client_watch
from app.api.openai.generation import ClientWatch
from app.api.openai.work import request_limit
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol


class StreamableRequest(Protocol):
    """What the resource reads of a parsed request: whether it is to be streamed."""

    @property
    def stream(self) -> bool: ...


R = TypeVar("R", bound=StreamableRequest)


class GenerationService(Protocol[R]):
    """A generation service as the resource drives it
    (:class:`~app.api.openai.completions.Completions`,
    :class:`~app.api.openai.chat.ChatCompletions`)."""

    @property
    def metrics(self) -> ApiMetrics: ...

    def parse(self, body: dict[str, Any], engine: EngineProtocol,
              path_model: str | None = None) -> R: ...

    def work(self, request: R, context_length: int, limit: int) -> int: ...

    def respond(self, engine: EngineProtocol, request: R,
                watch: ClientWatch) -> dict[str, Any]: ...

    def stream(self, engine: EngineProtocol, request: R, watch: ClientWatch,
               started: float) -> Generator[bytes, None, None]: ...


class GenerationResource(Generic[R]):
    """``POST`` of one generation endpoint, answered by ``service``; a route naming the model
    in its path (``/v1/engines/{model}/completions``) passes it as ``model``."""

    def __init__(self, slot: EngineSlot, service: GenerationService[R]) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                model: str | None = None) -> None:
        started = time.perf_counter()
        body = read_json(req)
        engine = self.slot.get()
        request = self.service.parse(body, engine, model)
        self.service.work(request, engine.info.context_length, request_limit(req))
        watch = client_watch(req, self.service.metrics)
        if request.stream:
            sse.start(resp)
            resp.stream = self.service.stream(engine, request, watch, started)
        else:
            resp.media = self.service.respond(engine, request, watch)
