"""Small middleware with one job each: request ids and access logs, and body limits."""

from __future__ import annotations

import logging
import re
import time
import uuid

import falcon
import orjson

from app.api.finishing import is_streamed, when_finished
from app.errors import PayloadTooLarge, UnsupportedMediaType

access_log = logging.getLogger("hypercube.access")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Gives each request an id (the client's ``X-Request-Id`` if it is sane), returns it in
    the ``x-request-id`` header and writes one structured access-log line per request."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        offered = req.get_header("X-Request-Id")
        req.context.request_id = (offered if offered and _CLIENT_ID.match(offered)
                                  else f"req_{uuid.uuid4().hex}")
        req.context.started = time.perf_counter()
        req.context.max_body_bytes = self.max_body_bytes
        resp.set_header("x-request-id", req.context.request_id)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        if "request_id" not in req.context:  # an earlier middleware failed before ours ran
            return
        streamed = is_streamed(resp)

        def log_line() -> None:
            if not access_log.isEnabledFor(logging.INFO):
                return
            error = req.context.get("error")
            entry = {
                "request_id": req.context.request_id,
                "method": req.method,
                "path": req.path,
                "status": int(resp.status_code),
                "ms": round((time.perf_counter() - req.context.started) * 1000, 2),
                "client": req.remote_addr,
                "key": req.context.get("key_id"),
                "stream": streamed,
                "error": None if error is None else error[1] or error[0],
            }
            access_log.info(orjson.dumps(entry).decode())

        when_finished(resp, log_line)


class RequestLimits:
    """413 for bodies over the limit (from Content-Length, before reading anything) and 415
    for a body that is not of a type the resource reads.

    Resources declare ``accepts`` (content types) when they read something other than JSON,
    or ``accepts = ()`` when they read no body at all.
    """

    JSON = ("application/json",)

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, params: dict[str, object]) -> None:
        if req.method not in ("POST", "PUT", "PATCH"):
            return
        length = req.content_length
        if length is not None and length > self.max_body_bytes:
            raise PayloadTooLarge(
                f"the request body ({length} bytes) is larger than the limit of "
                f"{self.max_body_bytes} bytes"
            )
        accepts = getattr(resource, "accepts", self.JSON)
        if not accepts:
            return
        media = (req.content_type or "").split(";", 1)[0].strip().lower()
        if media not in accepts:
            raise UnsupportedMediaType(
                f"Content-Type must be {' or '.join(accepts)}, not {media or 'missing'}"
            )
