"""What the dialect adapters share: reading our own SSE streams back, NDJSON, times.

The adapters stream by running the OpenAI services' own streams (so JSON mode, structured
output and every check behave exactly as on ``/v1/…``) and re-shaping each event.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

import falcon
import orjson

NDJSON = "application/x-ndjson"


def sse_payloads(chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of an SSE stream written by app/api/http/sse.py (``[DONE]`` dropped)."""
    for chunk in chunks:
        for line in chunk.split(b"\n"):
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                yield orjson.loads(line[len(b"data: "):])


def ndjson_line(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload) + b"\n"


def start_ndjson(resp: falcon.Response) -> None:
    resp.content_type = NDJSON
    resp.set_header("Cache-Control", "no-cache")
    resp.set_header("X-Accel-Buffering", "no")


def nanoseconds(seconds: float) -> int:
    return int(seconds * 1e9)


def iso_time(timestamp: float) -> str:
    """RFC 3339 with nanosecond-style precision and a Z, as Ollama writes ``created_at``."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
