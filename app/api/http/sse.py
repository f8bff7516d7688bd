"""Server-sent events as OpenAI streams them: ``data: {json}`` blocks, then ``data: [DONE]``."""

from __future__ import annotations

from typing import Any

import falcon
import orjson

from app.errors import HypercubeError

DONE = b"data: [DONE]\n\n"


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_event(exc: HypercubeError) -> bytes:
    """A failure after the 200 went out: the openai clients raise ``APIError`` on it."""
    return event(exc.to_openai())


def start(resp: falcon.Response) -> None:
    resp.content_type = "text/event-stream"
    resp.set_header("Cache-Control", "no-cache")
    # Tells nginx-style proxies not to buffer the stream.
    resp.set_header("X-Accel-Buffering", "no")


def event_schema(description: str) -> dict[str, Any]:
    """How ``/openapi.json`` describes a stream: each event, as SSE clients (and schema
    validators) read one."""
    return {"type": "object", "description": description,
            "properties": {"data": {"type": "string"}, "event": {"type": "string"}}}
