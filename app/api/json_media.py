"""orjson for Falcon's JSON media: several times faster than the standard library's json."""

from __future__ import annotations

import falcon.media
import orjson


def json_handler() -> falcon.media.JSONHandler:
    # Falcon sees that orjson.dumps returns bytes and skips its own encoding step.
    return falcon.media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)
