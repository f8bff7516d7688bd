"""What the API server is configured with, resolved once from flags, environment and defaults."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.errors import InvalidRequest
from app.paths import resolve_user_path
from app.settings import Settings


@dataclass(frozen=True)
class ApiSettings:
    """Everything :func:`app.api.create_app` needs besides the store and the engine.

    Args:
        api_keys: keys a client must present; empty means the API is open.
        cors_origins: browser origins allowed to call the API; empty means CORS is off.
        rate_limit: requests per second one key (or one address, without keys) may make;
            0 turns rate limiting off.
        rate_burst: requests a client may make at once before the limit applies.
        max_body_bytes: largest request body accepted; larger ones get 413.
        chat_max_tokens: a chat reply's length when the request gives none (0: up to the
            context window).
        bind_host: the address the server listens on; bound to loopback, it answers only
            requests whose ``Host`` is loopback, ``localhost``, ``*.localhost`` or one of
            ``allowed_hosts`` (DNS rebinding).
        allowed_hosts: more host names a loopback-bound server answers to.
        ingest_roots: folders ``POST /v1/ingest`` may read (resolved); empty turns HTTP
            ingestion off.
        admin_keys: keys for ingestion, batches and files when ``api_keys`` are set.
        max_json_bytes: largest JSON body, refused before decoding.
        max_request_tokens: most tokens one request may ask to generate.
    """

    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    rate_limit: float = 0.0
    rate_burst: int = 20
    max_body_bytes: int = 100_000_000
    chat_max_tokens: int = 1024
    bind_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    ingest_roots: tuple[Path, ...] = ()
    admin_keys: tuple[str, ...] = ()
    max_json_bytes: int = 16_000_000
    max_request_tokens: int = 65536

    @classmethod
    def resolve(cls, environment: Settings, *, api_keys: Iterable[str] = (),
                api_key_file: Path | None = None,
                cors_origins: Iterable[str] = (), rate_limit: float | None = None,
                rate_burst: int | None = None,
                max_body_bytes: int | None = None,
                chat_max_tokens: int | None = None, bind_host: str | None = None,
                allowed_hosts: Iterable[str] = (), ingest_roots: Iterable[str | Path] = (),
                default_ingest_roots: Iterable[str | Path] = (),
                admin_keys: Iterable[str] = (), admin_key_file: Path | None = None,
                max_json_bytes: int | None = None,
                max_request_tokens: int | None = None) -> ApiSettings:
        """Settings from explicit values, falling back to ``environment`` (the
        ``HYPERCUBE_…`` variables the composition root read) and the defaults.

        ``default_ingest_roots`` apply when neither flags nor the environment name a root
        (the desktop app lets its user ingest from their home folder).
        """
        keys = [k for k in api_keys if k] or _nonempty([environment.get("api_key")])
        key_file = api_key_file or environment.get("api_key_file")
        if key_file:
            keys += read_key_file(Path(key_file))
        admins = [k for k in admin_keys if k] or _nonempty([environment.get("admin_key")])
        admin_file = admin_key_file or environment.get("admin_key_file")
        if admin_file:
            admins += read_key_file(Path(admin_file))
        if admins and not keys:
            raise InvalidRequest("an admin key only makes sense with client API keys: set "
                                 "--api-key (or --api-key-file) too")
        if set(admins) & set(keys):
            raise InvalidRequest("an admin key must differ from every client API key")
        origins = [o for o in cors_origins if o] or _nonempty([environment.get("cors_origin")])
        hosts = [h for h in allowed_hosts if h] or _split(environment.get("allowed_host"), ",")
        roots = ([r for r in ingest_roots if r]
                 or _split(environment.get("ingest_root"), os.pathsep)
                 or list(default_ingest_roots))
        return cls(
            api_keys=tuple(dict.fromkeys(keys)),
            cors_origins=tuple(origins),
            rate_limit=environment.get("rate_limit") if rate_limit is None else rate_limit,
            rate_burst=environment.get("rate_burst") if rate_burst is None else rate_burst,
            max_body_bytes=(environment.get("max_body_bytes") if max_body_bytes is None
                            else max_body_bytes),
            chat_max_tokens=(environment.get("chat_max_tokens") if chat_max_tokens is None
                             else chat_max_tokens),
            bind_host=bind_host or environment.get("host"),
            allowed_hosts=tuple(h.strip().lower().rstrip(".") for h in hosts),
            ingest_roots=tuple(resolve_ingest_root(r) for r in roots),
            admin_keys=tuple(dict.fromkeys(admins)),
            max_json_bytes=(environment.get("max_json_bytes") if max_json_bytes is None
                            else max_json_bytes),
            max_request_tokens=(environment.get("max_request_tokens") if max_request_tokens is None
                                else max_request_tokens),
        )


def resolve_ingest_root(root: str | Path) -> Path:
    """An ingest root as the checks compare it: ``~`` expanded, symlinks and ``..`` resolved;
    it must be an existing folder."""
    path = resolve_user_path(str(root), param="ingest_root")
    if not path.is_dir():
        raise InvalidRequest(f"the ingest root {root} is not a folder", param="ingest_root")
    return path


def read_key_file(path: Path) -> list[str]:
    """One key per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidRequest(f"cannot read the API key file {path}: {exc.strerror}") from exc
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise InvalidRequest(f"the API key file {path} holds no key")
    return keys


def _split(value: str | None, separator: str) -> list[str]:
    return [part.strip() for part in (value or "").split(separator) if part.strip()]


def _nonempty(values: Iterable[str | None]) -> list[str]:
    return [v for v in values if v]
