"""A :class:`ClientWatch` for an HTTP request served by Waitress."""

from __future__ import annotations

import falcon

from app.api.generation import ClientWatch
from app.api.metrics import ApiMetrics


def client_watch(req: falcon.Request, metrics: ApiMetrics) -> ClientWatch:
    return ClientWatch(req.env.get("waitress.client_disconnected"), metrics.cancelled.inc)
