"""Every failure becomes an OpenAI error object, in this one module.

``{"error": {"message", "type", "param", "code"}}`` with the right status: our own
:class:`~app.errors.HypercubeError` carries its status and type; Falcon's routing and
media errors (unknown URL, wrong method, …) are translated to the same shape; anything else
is a bug, logged with its traceback under the request id and answered with a plain 500 that
shows no internals.
"""

from __future__ import annotations

import logging
import math

import apsw
import falcon
import orjson
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from app.errors import HypercubeError, RateLimited, store_error

log = logging.getLogger("hypercube.api")

_FALCON_CODES = {
    400: "invalid_request",
    404: "unknown_url",
    405: "method_not_allowed",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(message: str, type_: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _respond(req: falcon.Request, resp: falcon.Response, status: int,
             body: dict[str, object]) -> None:
    resp.status = status
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON
    error = body["error"]
    assert isinstance(error, dict)
    # Read by the metrics middleware (errors by type) and the access log.
    req.context.error = (error["type"], error["code"])


def handle_hypercube_error(req: falcon.Request, resp: falcon.Response, ex: HypercubeError,
                           params: dict[str, object]) -> None:
    if isinstance(ex, RateLimited):
        # openai clients honour both: retry-after-ms is the precise one.
        resp.set_header("Retry-After", str(max(1, math.ceil(ex.retry_after))))
        resp.set_header("retry-after-ms", str(max(1, math.ceil(ex.retry_after * 1000))))
    if ex.status >= 500:
        log.error("request %s failed: %s", req.context.get("request_id"), ex.message)
    _respond(req, resp, ex.status, ex.to_openai())


def handle_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError,
                      params: dict[str, object]) -> None:
    status = ex.status_code
    if isinstance(ex, falcon.HTTPRouteNotFound | falcon.HTTPNotFound):
        message = f"Invalid URL ({req.method} {req.path})"
    elif isinstance(ex, falcon.HTTPMethodNotAllowed):
        message = f"Method {req.method} is not allowed for {req.path}"
    else:
        message = ex.description or ex.title or "invalid request"
    if ex.headers:
        # A mapping or a list of (name, value) pairs: Falcon accepts both.
        resp.set_headers(ex.headers)
    type_ = "invalid_request_error" if status < 500 else "server_error"
    _respond(req, resp, status, error_body(message, type_, code=_FALCON_CODES.get(status)))


def root_store_error(ex: BaseException) -> apsw.Error | None:
    """The SQLite error that started it: a failed ROLLBACK after a full disk ("cannot
    rollback - no transaction is active") is about the full disk, not the rollback."""
    found: apsw.Error | None = None
    seen: set[int] = set()
    current: BaseException | None = ex
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, apsw.Error):
            found = current
            if isinstance(current, apsw.FullError):
                return current
        current = current.__cause__ or current.__context__
    return found


def handle_store_error(req: falcon.Request, resp: falcon.Response, ex: apsw.Error,
                       params: dict[str, object]) -> None:
    """SQLite failures that reached a request: a full disk is 507 and says so."""
    root = root_store_error(ex) or ex
    translated = store_error(root, "store this request's data")
    log.error("request %s failed in SQLite: %s", req.context.get("request_id"), root)
    _respond(req, resp, translated.status, translated.to_openai())


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception,
                      params: dict[str, object]) -> None:
    request_id = req.context.get("request_id")
    log.exception("request %s: unexpected error", request_id, exc_info=ex)
    _respond(req, resp, 500, error_body(
        f"The server had an error while processing your request (request id {request_id}).",
        "server_error"))


def install(app: falcon.App) -> None:
    """Register the handlers; Falcon picks the most specific one for each exception."""
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(apsw.Error, handle_store_error)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(HypercubeError, handle_hypercube_error)


# -- errors Waitress answers itself, before the app sees the request ------------------------

_WAITRESS_CODES = {400: "invalid_request", 413: "payload_too_large",
                   431: "request_header_fields_too_large", 500: None}


class JsonErrorTask(ErrorTask):
    """Waitress's own error answers (a body over its size limit, a malformed chunked body,
    headers too large) as OpenAI error objects instead of plain text."""

    def execute(self) -> None:
        # types-waitress types Task.request as an Error, but waitress hands every task its
        # HTTPRequestParser, whose .error is the Error that made this an ErrorTask.
        error = self.request.error  # type: ignore[attr-defined]
        message = str(error.body or error.reason).strip() or error.reason
        type_ = "invalid_request_error" if error.code < 500 else "server_error"
        body = orjson.dumps(error_body(f"{error.reason}: {message}", type_,
                                       code=_WAITRESS_CODES.get(error.code)))
        self.status = f"{error.code} {error.reason}"
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
