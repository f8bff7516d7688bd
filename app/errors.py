"""The one error hierarchy of Hypercube.

Every failure a user can cause or meet is one of these. Each class knows its HTTP status and
its OpenAI error ``type``/``code``, so the API turns it into an OpenAI error object in one
place and the CLI turns it into one clear line in one place. Foreign exceptions (APSW,
llvmlite, tree-sitter, OS) are translated where they enter our code, with ``raise … from``.

    HypercubeError
    ├── InvalidRequest            400 invalid_request_error
    │   ├── InvalidText           400 (lone surrogates, invalid UTF-8)
    │   └── ContextLengthExceeded 400 context_length_exceeded
    ├── AuthenticationFailed      401 invalid_api_key
    ├── PermissionDenied          403 (host, origin, ingest root or admin key refused)
    ├── NotFound                  404 not_found_error
    │   └── ModelNotFound         404 model_not_found
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── RateLimited               429 rate_limit_exceeded
    ├── ClientDisconnected        499 (the client left before the answer was ready)
    ├── CannotListen              500 (the server cannot bind its address)
    ├── StoreError                500 server_error (the hypercube file is unusable)
    │   ├── StoreLocked           503 (another writer holds the file)
    │   ├── StoreFull             507 (the disk or the file's size limit is full)
    │   └── SchemaTooNew          500 (file written by a newer Hypercube)
    ├── ReadOnly                  403 read_only (serve --read-only: nothing is written)
    └── NotReady                  503 (model still loading, nothing ingested yet)
"""

from __future__ import annotations


class HypercubeError(Exception):
    """Base of every error Hypercube raises on purpose."""

    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_openai(self) -> dict[str, object]:
        """The OpenAI error object clients parse (``code`` is a string or null, never a status)."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(HypercubeError):
    status = 400
    type = "invalid_request_error"


class InvalidText(InvalidRequest):
    code = "invalid_text"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class AuthenticationFailed(HypercubeError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(HypercubeError):
    status = 403
    type = "invalid_request_error"
    code = "permission_denied"


class NotFound(HypercubeError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(HypercubeError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class UnsupportedMediaType(HypercubeError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimited(HypercubeError):
    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class ClientDisconnected(HypercubeError):
    """The client closed the connection; its generation was stopped and nobody reads this."""

    status = 499
    type = "client_closed_request"
    code = "client_disconnected"


class CannotListen(HypercubeError):
    """The server's address is taken or not ours to bind."""

    code = "cannot_listen"


class StoreError(HypercubeError):
    type = "server_error"
    code = "store_error"


class StoreLocked(StoreError):
    status = 503
    code = "store_locked"


class StoreFull(StoreError):
    status = 507
    code = "insufficient_storage"


class SchemaTooNew(StoreError):
    code = "schema_too_new"


class ReadOnly(HypercubeError):
    """What needs writing was asked of a server that serves a read-only hypercube."""

    status = 403
    type = "invalid_request_error"
    code = "read_only"


class NotReady(HypercubeError):
    status = 503
    type = "server_error"
    code = "not_ready"


def store_error(exc: Exception, doing: str) -> StoreError:
    """An APSW (SQLite) failure as one of ours, for the API's and the CLI's boundaries.

    ``doing`` completes "cannot …" (e.g. ``"write the hypercube"``).
    """
    import apsw

    if isinstance(exc, apsw.FullError):
        return StoreFull(f"cannot {doing}: the disk is full (free some space and retry)")
    if isinstance(exc, apsw.BusyError | apsw.LockedError):
        return StoreLocked(f"cannot {doing}: another process is writing the hypercube; "
                           "retry when it is done")
    if isinstance(exc, apsw.ReadOnlyError):
        return StoreError(f"cannot {doing}: the hypercube file is read-only",
                          code="read_only")
    if isinstance(exc, apsw.CorruptError | apsw.NotADBError):
        return StoreError(f"cannot {doing}: the hypercube file is damaged "
                          "(run 'hypercube db check')", code="corrupt")
    if isinstance(exc, apsw.IOError):
        return StoreError(f"cannot {doing}: the disk reported an I/O error ({exc})",
                          code="io_error")
    return StoreError(f"cannot {doing}: {exc}")
