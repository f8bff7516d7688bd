"""What the API server is configured with, resolved once from flags, environment and defaults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.errors import InvalidRequest
from app.settings import env_value


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
    """

    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    rate_limit: float = 0.0
    rate_burst: int = 20
    max_body_bytes: int = 100_000_000
    chat_max_tokens: int = 1024

    @classmethod
    def resolve(cls, *, api_keys: Iterable[str] = (), api_key_file: Path | None = None,
                cors_origins: Iterable[str] = (), rate_limit: float | None = None,
                rate_burst: int | None = None,
                max_body_bytes: int | None = None,
                chat_max_tokens: int | None = None) -> ApiSettings:
        """Settings from explicit values, falling back to ``HYPERCUBE_…`` and the defaults."""
        keys = [k for k in api_keys if k] or _nonempty([env_value("api_key")])
        key_file = api_key_file or env_value("api_key_file")
        if key_file:
            keys += read_key_file(Path(key_file))
        origins = [o for o in cors_origins if o] or _nonempty([env_value("cors_origin")])
        return cls(
            api_keys=tuple(dict.fromkeys(keys)),
            cors_origins=tuple(origins),
            rate_limit=env_value("rate_limit") if rate_limit is None else rate_limit,
            rate_burst=env_value("rate_burst") if rate_burst is None else rate_burst,
            max_body_bytes=(env_value("max_body_bytes") if max_body_bytes is None
                            else max_body_bytes),
            chat_max_tokens=(env_value("chat_max_tokens") if chat_max_tokens is None
                             else chat_max_tokens),
        )


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


def _nonempty(values: Iterable[str | None]) -> list[str]:
    return [v for v in values if v]
