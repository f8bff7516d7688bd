"""Settings, declared once.

Each setting has one name, one environment variable (``HYPERCUBE_<NAME>``), one default and
one help text. CLI flags take their defaults and help from here, and the environment is read
and validated against this table only, so an unknown ``HYPERCUBE_…`` variable is an error
rather than silently ignored.

The environment is read once, by :meth:`Settings.from_environment` in the composition root
(:mod:`app.compose`); everything else is handed the frozen :class:`Settings` (or the values it
needs) instead of reading the environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from app.errors import InvalidRequest

APP_NAME = "hypercube"
ENV_PREFIX = "HYPERCUBE_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use 1/true/yes/on or 0/false/no/off")


def _at_least(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < low:
            raise ValueError(f"{number} is below {low}")
        return number
    return parse


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("db", None, "hypercube file (default: your user data folder's hypercube.db, "
            "or the embedded default hypercube for commands that only read)"),
    Setting("data_dir", None, "folder for Hypercube's own files (default: the platform's "
            "user data folder)"),
    Setting("host", "127.0.0.1", "address the server listens on"),
    Setting("port", 8080, "port the server listens on (0 picks a free one)", _port),
    Setting("api_key", None, "API key clients must send (Bearer or x-api-key)"),
    Setting("api_key_file", None, "file with one API key per line"),
    Setting("cors_origin", None, "origin allowed to call the API from a browser"),
    Setting("threads", 16, "server worker threads (each open stream holds one)", int),
    Setting("rate_limit", 0.0, "requests per second each API key (or client address) may "
            "make; 0 turns rate limiting off", float),
    Setting("rate_burst", 20, "requests a client may make at once before the rate limit "
            "applies", int),
    Setting("chat_max_tokens", 1024, "length of a chat reply when the request sets no "
            "max_tokens (0: up to the context window)", int),
    Setting("read_only", False, "serve the hypercube without ever writing it (a snapshot on "
            "a read-only mount, followed to each newer snapshot); files, batches and "
            "ingestion are refused", _flag),
    Setting("otlp_endpoint", None, "OpenTelemetry collector to send request traces to over "
            "OTLP/HTTP (e.g. http://127.0.0.1:4318); unset: tracing off"),
    Setting("max_body_bytes", 100_000_000, "largest request body the server accepts "
            "(larger ones get 413)", int),
    Setting("allowed_host", None, "host name a loopback-bound server also answers to "
            "besides loopback addresses, localhost and *.localhost (against DNS rebinding; "
            "comma-separated in the environment)"),
    Setting("ingest_root", None, "folder POST /v1/ingest may read from; none means HTTP "
            f"ingestion is off ({os.pathsep}-separated in the environment)"),
    Setting("admin_key", None, "key for ingestion, batches and files when API keys are set "
            "(client keys are refused there)"),
    Setting("admin_key_file", None, "file with one admin key per line"),
    Setting("max_json_bytes", 16_000_000, "largest JSON request body (larger ones get 413 "
            "before any decoding)", int),
    Setting("segment_tokens", 16_000_000, "most tokens one model segment holds: building "
            "one takes ~75 bytes a token at its peak, and a larger corpus is several "
            "segments, which every query visits", _at_least(1000)),
    Setting("max_request_tokens", 65536, "most tokens one request may ask to generate: "
            "prompts × n × best_of × max_tokens (larger requests get 400)", int),
]}


def env_value(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The setting's value from the environment, parsed, or its default."""
    environ = os.environ if environ is None else environ
    setting = SETTINGS[name]
    raw = environ.get(setting.env)
    if raw is None:
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{setting.env}={raw!r} is not valid: {exc}") from exc


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Fail on a ``HYPERCUBE_…`` variable that names no setting (usually a typo)."""
    environ = os.environ if environ is None else environ
    known = {s.env for s in SETTINGS.values()}
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise InvalidRequest(
            f"unknown setting {unknown[0]} in the environment; known: {', '.join(sorted(known))}"
        )


@dataclass(frozen=True)
class Settings:
    """Every setting's value, resolved once (from the environment, else its default).

    ``data_dir`` is always a real folder path: the configured one, else the platform's user
    data folder. Other values are looked up by name with :meth:`get`.
    """

    data_dir: Path
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``HYPERCUBE_…`` variables (``os.environ`` by default).

        Raises:
            InvalidRequest: a variable names no setting, or holds a value its setting refuses.
        """
        check_environment(environ)
        values = {name: env_value(name, environ) for name in SETTINGS}
        configured = values["data_dir"]
        folder = Path(configured) if configured else Path(platformdirs.user_data_dir(APP_NAME))
        return cls(data_dir=folder, values=MappingProxyType(values))

    def get(self, name: str) -> Any:
        """The value of the setting ``name`` (a key of :data:`SETTINGS`)."""
        if name not in SETTINGS:
            raise KeyError(f"no setting {name!r}")
        return self.values.get(name, SETTINGS[name].default)

    @property
    def user_db_path(self) -> Path:
        """Where ``hypercube ingest`` writes when no ``--db`` is given."""
        configured = self.get("db")
        return Path(configured) if configured else self.data_dir / "hypercube.db"

    @property
    def jit_cache_dir(self) -> Path:
        """Where compiled kernels are cached between runs."""
        return self.data_dir / "jit"

    @property
    def webview_dir(self) -> Path:
        """The desktop window's own browser profile."""
        return self.data_dir / "webview"
