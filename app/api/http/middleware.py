"""Small middleware with one job each: request ids and access logs, the Host and Origin
guard, and body limits."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterable

import falcon
import orjson

from app.api.http.finishing import is_streamed, when_finished
from app.errors import PayloadTooLarge, PermissionDenied, UnsupportedMediaType

access_log = logging.getLogger("hypercube.access")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Gives each request an id (the client's ``X-Request-Id`` if it is sane), returns it in
    the ``x-request-id`` header and writes one structured access-log line per request."""

    def __init__(self, max_body_bytes: int, max_json_bytes: int | None = None,
                 max_request_tokens: int | None = None) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_body_bytes if max_json_bytes is None else max_json_bytes
        self.max_request_tokens = max_request_tokens

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        offered = req.get_header("X-Request-Id")
        req.context.request_id = (offered if offered and _CLIENT_ID.match(offered)
                                  else f"req_{uuid.uuid4().hex}")
        req.context.started = time.perf_counter()
        req.context.max_body_bytes = self.max_body_bytes
        req.context.max_json_bytes = min(self.max_json_bytes, self.max_body_bytes)
        req.context.max_request_tokens = self.max_request_tokens
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


def is_loopback_bind(host: str) -> bool:
    """Whether a server listening on ``host`` can only be reached from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:80`` → ``::1``."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_local_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostGuard:
    """Browsers must not reach the API from another site.

    - **DNS rebinding**: a page on ``evil.example`` whose name is made to resolve to 127.0.0.1
      talks to a loopback server with ``Host: evil.example``. So a loopback-bound server
      answers 403 unless ``Host`` names a loopback address, ``localhost``, ``*.localhost``
      or an operator-allowed name (the fix Ollama made for the same flaw). A server bound to
      another address is meant to be reached under other names and skips this check.
    - **Cross-origin requests**: a browser sends ``Origin`` with them; one that is neither
      the server's own origin nor a ``--cors-origin`` gets 403, preflights included.
    """

    def __init__(self, bind_host: str, allowed_hosts: Iterable[str],
                 cors_origins: Iterable[str]) -> None:
        self.check_host = is_loopback_bind(bind_host)
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in cors_origins)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        host = req.get_header("Host")
        if self.check_host and host is not None:
            name = host_name(host)
            if not (is_local_name(name) or name in self.allowed_hosts):
                raise PermissionDenied(
                    f"this server answers only to loopback names, not to Host {name!r}; "
                    "start it with --allowed-host NAME to allow one",
                    code="host_not_allowed")
        origin = req.get_header("Origin")
        if origin is not None and not self._origin_allowed(origin, host):
            raise PermissionDenied(
                f"cross-origin requests from {origin!r} are not allowed; start the server "
                "with --cors-origin ORIGIN to allow one", code="origin_not_allowed")

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        normal = origin.strip().rstrip("/").lower()
        if normal in self.cors_origins:
            return True
        parts = urllib.parse.urlsplit(normal)
        # The server's own pages (the UI) send their own origin on POSTs.
        return (host is not None and parts.scheme in ("http", "https")
                and parts.netloc == host.strip().lower())


# Content types a page may send cross-site without a CORS preflight.
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
# Headers a page cannot add without a preflight: their presence shows a real API client.
_CLIENT_HEADERS = ("Authorization", "x-api-key")


class RequestLimits:
    """413 for bodies over the limit (from Content-Length, before reading anything) and 415
    for a body that is not of a type the resource reads.

    Resources declare ``accepts`` (content types) when they read something other than JSON,
    or ``accepts = ()`` when they read no body at all. A body-less POST (a cancel) may come
    without a content type or as JSON, never as a form or plain text: those a foreign page
    can send without a preflight. The same holds for multipart uploads unless the request
    carries a key header, which the official clients always send.
    """

    JSON = ("application/json",)

    def __init__(self, max_body_bytes: int, max_json_bytes: int | None = None) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_body_bytes if max_json_bytes is None else max_json_bytes

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, params: dict[str, object]) -> None:
        if req.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        accepts = getattr(resource, "accepts", self.JSON)
        limit = (min(self.max_json_bytes, self.max_body_bytes) if accepts == self.JSON
                 else self.max_body_bytes)
        length = req.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"the request body ({length} bytes) is larger than the limit of "
                f"{limit} bytes"
            )
        media = (req.content_type or "").split(";", 1)[0].strip().lower()
        if not accepts:
            if media and media not in self.JSON:
                raise UnsupportedMediaType(
                    f"this request takes no body: send no Content-Type or "
                    f"application/json, not {media}")
            return
        if media not in accepts:
            raise UnsupportedMediaType(
                f"Content-Type must be {' or '.join(accepts)}, not {media or 'missing'}"
            )
        if media in _SIMPLE_TYPES and not any(req.get_header(h) for h in _CLIENT_HEADERS):
            raise UnsupportedMediaType(
                f"a {media} upload must carry an 'Authorization: Bearer …' or 'x-api-key' "
                "header (any value when the server needs no key), so that no web page can "
                "send it", code="unsupported_media_type")
