"""Helpers for the API tests: a real hypercube, the real engine, the real Waitress server.

A hypercube is built once per session by the real ingest over a small corpus written here;
servers run the real app in-process on a free loopback port (so tests can also look at the
engine the server uses) and are stopped when their fixture ends.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import openai

from app.api import ApiSettings, EngineSlot, Server, create_app
from app.api.app import ApiApp
from app.cli.serving import load_engine
from app.engine.types import EngineProtocol
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root, write_python_corpus

FIXTURES = Path(__file__).resolve().parent / "fixtures"

PROSE = """\
The hypercube stores every text it reads as atoms and compositions. A composition is made of
atoms and other compositions, and identical content is stored only once. The server answers
requests from the statistics of the stored token streams: it counts which token follows which
context, and it samples the next token from those counts.

Near-duplicate texts share most of their token sequences. Unrelated texts share only the most
common tokens, such as spaces, commas and the word "the".
"""


def write_corpus(root: Path) -> Path:
    write_python_corpus(root, files=30, seed=7, lines=60)
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "about.md").write_text(PROSE * 3, encoding="utf-8")
    (root / "docs" / "unicode.txt").write_text(
        "Café, naïve, 東京, emoji 😀 — all text. Ünïcödé is text too.\n" * 5, encoding="utf-8")
    return root


def build_hypercube(db: Path, corpus: Path, *, model: bool = True) -> Path:
    """The real ingest, as ``hypercube ingest`` runs it; with ``model=False`` it stops short
    of updating the model (as a run killed at its very end does): loading then refuses it
    until `hypercube db repair` has run."""
    with Store(db) as store:
        summary = IngestRun(store, IngestOptions(roots=[corpus]), analyzers=make_root().analyzers(),
                            listeners=make_root().listeners() if model else []).run()
    assert summary.status == "done", summary
    return db


@dataclass
class Running:
    """A live server and what it serves."""

    server: Server
    app: ApiApp
    store: Store
    db: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def engine(self) -> EngineProtocol:
        return self.app.state.slot.get()

    @property
    def model(self) -> str:
        return self.engine.info.id

    def stop(self) -> None:
        self.server.close()
        self.app.state.close()
        self.store.close()


def start_server(db: Path, settings: ApiSettings | None = None,
                 engine: EngineProtocol | EngineSlot | None = None,
                 threads: int = 8) -> Running:
    store = Store(db)
    root = make_root()
    if engine is None:
        engine = load_engine(db, root.kernels)
    app = create_app(store, engine, settings or ApiSettings(), plugins=root.plugins,
                     loader=lambda path: load_engine(path, root.kernels))
    server = Server(app, "127.0.0.1", 0, threads=threads,
                    max_body_bytes=(settings or ApiSettings()).max_body_bytes).start()
    running = Running(server, app, store, db)
    wait_healthy(running.url, accept_loading=not app.state.slot.loaded)
    return running


def wait_healthy(url: str, timeout: float = 60.0, accept_loading: bool = False) -> dict[str, Any]:
    """Poll /health until it answers (``ok``, or ``loading`` if allowed)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            status, _, body = request(url, "GET", "/health")
            health = json.loads(body)
            if status == 200 or (accept_loading and health["status"] == "loading"):
                return health
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"{url}/health never became ready ({last})")


# -- raw HTTP -------------------------------------------------------------------------------

def request(url: str, method: str, path: str, body: Any = None, *,
            headers: dict[str, str] | None = None, raw: bytes | None = None,
            timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; JSON-encodes ``body`` unless ``raw`` bytes are given."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    sent_headers = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=sent_headers)
        response = conn.getresponse()
        content = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content
    finally:
        conn.close()


def post_json(url: str, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    status, _, content = request(url, "POST", path, body, **kwargs)
    return status, json.loads(content)


def get_json(url: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    status, _, content = request(url, "GET", path, **kwargs)
    return status, json.loads(content)


def sse_events(url: str, path: str, body: Any,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], list[Any]]:
    """POST a streaming request; the decoded ``data:`` payloads, ``"[DONE]"`` kept as is."""
    status, response_headers, content = request(url, "POST", path, body, headers=headers)
    return status, response_headers, parse_sse(content)


def parse_sse(content: bytes) -> list[Any]:
    events: list[Any] = []
    for block in content.decode("utf-8").split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                payload = line[len("data: "):]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


# -- schemas --------------------------------------------------------------------------------

@cache
def _openai_components() -> dict[str, Any]:
    return json.loads((FIXTURES / "openai_schemas.json").read_text(encoding="utf-8"))


def _validator(components: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": components["components"]}
    return jsonschema.Draft202012Validator(schema)


def validate_openai(name: str, instance: Any) -> None:
    """Validate against OpenAI's official schema (see fixtures/make_openai_schemas.py)."""
    _validator(_openai_components(), name).validate(instance)


def validate_ours(document: dict[str, Any], name: str, instance: Any) -> None:
    """Validate against a schema of our own /openapi.json."""
    _validator(document, name).validate(instance)


def error_of(status: int, body: Any) -> dict[str, Any]:
    """The OpenAI error object of a failed response (asserting it is well-formed)."""
    assert status >= 400
    validate_openai("ErrorResponse", body)
    return body["error"]


def stream_lines(url: str, path: str, body: Any) -> Iterator[bytes]:
    """Lines of a streamed response as they arrive (for tests that hang up mid-stream)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    try:
        while line := response.readline():
            yield line
    finally:
        conn.close()


# -- one hypercube and one engine for the whole session -------------------------------------

_SESSION_DIR: Path | None = None


def session_dir() -> Path:
    """A temporary folder for the session's shared hypercube, removed at exit."""
    global _SESSION_DIR
    if _SESSION_DIR is None:
        import atexit
        import shutil
        import tempfile

        _SESSION_DIR = Path(tempfile.mkdtemp(prefix="hypercube-api-tests-"))
        atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)
    return _SESSION_DIR


@cache
def shared_hypercube() -> Path:
    """The session's hypercube (built once by the real ingest)."""
    root = session_dir()
    return build_hypercube(root / "shared.db", write_corpus(root / "corpus"))


def openai_client(running: Running) -> openai.OpenAI:
    """The real ``openai`` client of ``running``, no retries (a failure shows at once)."""
    return openai.OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0)


@cache
def shared_engine() -> EngineProtocol:
    """The real engine over :func:`shared_hypercube`, loaded once."""
    return load_engine(shared_hypercube(), make_root().kernels)
