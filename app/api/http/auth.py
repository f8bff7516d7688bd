"""API keys: ``Authorization: Bearer KEY`` or ``x-api-key: KEY``, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import falcon

from app.errors import AuthenticationFailed, PermissionDenied
from app.ui import is_ui_path

# Open without a key: load balancers and supervisors probe it.
OPEN_PATHS = frozenset({"/health"})

# Routes that read server files or store data for everyone: with keys set, only an admin key
# opens them.
ADMIN_PREFIXES = ("/v1/ingest", "/v1/batches", "/v1/files")


def is_admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PREFIXES)


def is_open(path: str) -> bool:
    """Whether ``path`` is served without a key: /health, and the web UI's page and static
    files (a browser cannot attach a key to a page load; the page's API calls carry it)."""
    return path in OPEN_PATHS or is_ui_path(path)


def key_id(key: str) -> str:
    """A short, stable name for a key in logs and rate-limit buckets (never the key itself)."""
    return "key_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def presented_key(req: falcon.Request) -> str | None:
    auth = req.get_header("Authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return req.get_header("x-api-key") or None


def _matches(offered: bytes, keys: list[bytes]) -> bool:
    matched = False
    for known in keys:
        matched |= hmac.compare_digest(offered, known)
    return matched


class ApiKeyAuth:
    """Rejects requests without a valid key with 401 ``invalid_api_key``.

    Every configured key is compared (no early exit) with :func:`hmac.compare_digest`, so the
    time taken says nothing about how much of a key was right. CORS preflights carry no
    credentials by design and pass through. Admin keys open every route; client keys open
    all but the admin routes (ingestion, batches, files), which answer them 403, and see
    only their own row of ``/v1/usage``.
    """

    def __init__(self, keys: Iterable[str], admin_keys: Iterable[str] = ()) -> None:
        self._keys = [k.encode("utf-8") for k in keys]
        self._admin_keys = [k.encode("utf-8") for k in admin_keys]

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if is_open(req.path) or req.method == "OPTIONS":
            return
        key = presented_key(req)
        if key is None:
            raise AuthenticationFailed(
                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' "
                "or 'x-api-key: KEY'."
            )
        offered = key.encode("utf-8")
        admin = _matches(offered, self._admin_keys)
        if not (admin or _matches(offered, self._keys)):
            raise AuthenticationFailed("Incorrect API key provided.")
        req.context.key_id = key_id(key)
        req.context.admin = admin
        if not admin and is_admin_path(req.path):
            hint = ("use an admin key" if self._admin_keys
                    else "start the server with --admin-key to enable them")
            raise PermissionDenied(f"{req.path} needs an admin key, not a client key: {hint}",
                                   code="admin_key_required")
