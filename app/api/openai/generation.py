"""The client side of a generation: noticing a client that went away.

Generation policy (context checks, choices, seeds, stops, fill-in-the-middle) lives in
app/engine/policy.py; this module only ties a request's connection to the engine's cancel
event, so every generation, streamed or not, stops when its client is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace

from app.api.http.tracing import open_span, span
from app.engine.types import Choice, Delta, EngineProtocol, GenerationRequest
from app.errors import ClientDisconnected

__all__ = ["Choice", "ClientWatch", "generate_watched", "watched"]


class ClientWatch:
    """Whether the client is still connected, and the event that stops its generation.

    Waitress offers ``waitress.client_disconnected`` in the environment; it turns true once a
    write to the connection failed, so a stream learns it within a chunk or two (and Waitress
    also closes the stream's generator, which cancels too). A non-streamed answer writes
    nothing until it is done, so ``is_gone`` (app/api/http/watch.py: a look at the socket) is also
    asked each time the engine checks its cancel event between tokens.
    """

    def __init__(self, is_gone: Callable[[], bool] | None = None,
                 on_cancel: Callable[[], None] | None = None) -> None:
        self.event: threading.Event = _PollingEvent(self)
        self._is_gone = is_gone
        self._on_cancel = on_cancel
        # Made while the request's handler runs: its trace (a stream's body runs later).
        self.trace_context = otel_context.get_current()

    def gone(self) -> bool:
        return self.event.is_set()

    def cancel(self) -> None:
        if not threading.Event.is_set(self.event):
            self.event.set()
            if self._on_cancel is not None:
                self._on_cancel()

    def _poll(self) -> bool:
        if self._is_gone is not None and self._is_gone():
            self.cancel()
            return True
        return False


class _PollingEvent(threading.Event):
    """The cancel event the engine checks between tokens: set by :meth:`ClientWatch.cancel`,
    and seen as set as soon as the client is gone."""

    def __init__(self, watch: ClientWatch) -> None:
        super().__init__()
        self._watch = watch

    def is_set(self) -> bool:
        return super().is_set() or self._watch._poll()


def watched(deltas: Iterator[Delta], watch: ClientWatch) -> Iterator[Delta]:
    """``deltas`` until the client goes away, in an ``engine.stream`` span of the request's
    trace (ended with the stream).

    Raises:
        ClientDisconnected: the client went away (the engine has been told to stop).
    """
    return _watched(deltas, watch, open_span("engine.stream", context=watch.trace_context))


def _watched(deltas: Iterator[Delta], watch: ClientWatch,
             current: trace.Span) -> Iterator[Delta]:
    generated = 0
    try:
        for delta in deltas:
            if watch.gone():
                current.set_attribute("hypercube.cancelled", True)
                raise ClientDisconnected("the client closed the connection")
            generated += len(delta.tokens)
            yield delta
    finally:
        current.set_attribute("gen_ai.usage.output_tokens", generated)
        current.end()
        # Closing runs the engine's own cleanup now rather than whenever GC gets to it.
        close = getattr(deltas, "close", None)
        if close is not None:
            close()


def generate_watched(engine: EngineProtocol, request: GenerationRequest,
                     watch: ClientWatch) -> tuple[list[Choice], int]:
    """Every choice of a non-streamed request and the tokens generated, in an
    ``engine.generate`` span of the request's trace.

    Raises:
        ClientDisconnected: the client went away while the engine worked.
    """
    attributes: dict[str, int] = {"hypercube.choices": request.n}
    if request.params.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = request.params.max_tokens
    with span("engine.generate", **attributes) as current:
        result = engine.generate(request, cancel=watch.event)
        current.set_attribute("gen_ai.usage.output_tokens", result.completion_tokens)
    if watch.gone():
        raise ClientDisconnected("the client closed the connection")
    return result.choices, result.completion_tokens
