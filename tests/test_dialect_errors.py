"""Bad input on every dialect route gets that dialect's error shape with a 4xx, never a 500
or a traceback (fuzzed bodies included); the doctor lists the dialects."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api import ApiSettings
from app.api.dialects.errors import LLAMACPP_ROUTES
from tests.api_helpers import (
    Running,
    error_of,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
)

OLLAMA = ["/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/show"]
LLAMACPP = ["/completion", "/infill"]
OPENAI = ["/v1/responses", "/tokenize", "/detokenize"]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def check_shape(path: str, status: int, body: Any) -> None:
    """The error body of ``path``'s dialect."""
    assert 400 <= status < 500, body
    if path.startswith("/api/"):
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    elif path in LLAMACPP_ROUTES:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "type"}
        assert body["error"]["code"] == status and body["error"]["message"]
    else:
        error_of(status, body)


# A typed mistake each route reads (llama.cpp's routes ignore "model", as llama.cpp does).
BAD_FIELD = {**dict.fromkeys([*OLLAMA, "/v1/responses"], b'{"model": 5}'),
             "/completion": b'{"prompt": {}}', "/infill": b'{"input_prefix": 5}',
             "/tokenize": b'{"content": 5}', "/detokenize": b'{"tokens": "x"}'}


@pytest.mark.parametrize("path", OLLAMA + LLAMACPP + OPENAI)
@pytest.mark.parametrize("raw", [b"", b"{nope", b"[1, 2]", b"\"text\"", None])
def test_malformed_bodies(server: Running, path: str, raw: bytes | None) -> None:
    raw = BAD_FIELD[path] if raw is None else raw
    status, _, content = request(server.url, "POST", path, raw=raw,
                                 headers={"Content-Type": "application/json"})
    assert b"Traceback" not in content
    check_shape(path, status, json.loads(content))


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/generate", 405), ("DELETE", "/api/tags", 405), ("GET", "/api/pull", 404),
    ("GET", "/completion", 405), ("PUT", "/infill", 405), ("POST", "/props", 405),
    ("GET", "/v1/responses", 405),
])
def test_wrong_methods_and_unknown_routes(server: Running, method: str, path: str,
                                          status: int) -> None:
    body = None if method == "GET" else {}
    got, _, content = request(server.url, method, path, body)
    assert got == status
    check_shape(path, status, json.loads(content))


def test_unknown_routes_keep_their_openai_404(server: Running) -> None:
    status, _, content = request(server.url, "GET", "/v2/whatever")
    assert status == 404
    assert error_of(status, json.loads(content))["code"] == "unknown_url"


def test_auth_errors_are_in_the_dialect(shared_key_server: Running) -> None:
    status, _, content = request(shared_key_server.url, "GET", "/api/tags")
    assert status == 401 and set(json.loads(content)) == {"error"}
    status, _, content = request(shared_key_server.url, "POST", "/completion",
                                 {"prompt": "x"})
    assert status == 401 and json.loads(content)["error"]["type"] == "authentication_error"
    status, _, content = request(shared_key_server.url, "GET", "/api/tags",
                                 headers={"Authorization": "Bearer sekrit"})
    assert status == 200


@pytest.fixture(scope="module")
def shared_key_server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), ApiSettings(api_keys=("sekrit",)),
                           engine=shared_engine())
    yield running
    running.stop()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=False, width=32)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=6), children, max_size=3),
    max_leaves=8)
_fields = st.sampled_from([
    "model", "prompt", "suffix", "system", "raw", "context", "options", "format", "stream",
    "keep_alive", "messages", "input", "images", "logprobs", "top_logprobs", "tools",
    "input_prefix", "input_suffix", "input_extra", "n_predict", "n_probs", "n_cmpl",
    "temperature", "seed", "stop", "logit_bias", "content", "with_pieces", "tokens",
    "instructions", "max_output_tokens", "previous_response_id", "text", "return_tokens",
    "t_max_predict_ms", "lora", "dimensions", "name"])
_MODELS: dict[str, Callable[[], object]] = {"/api/": lambda: "hypercube:latest",
                                            "/v1/": lambda: "hypercube"}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(OLLAMA + LLAMACPP + OPENAI),
       body=st.dictionaries(_fields, _json_values, max_size=6), keep_model=st.booleans())
def test_fuzzed_bodies_never_get_a_500(server: Running, path: str, body: dict[str, Any],
                                       keep_model: bool) -> None:
    if keep_model:
        for prefix, model in _MODELS.items():
            if path.startswith(prefix):
                body["model"] = model()
    if isinstance(body.get("n_predict"), int):
        body["n_predict"] = min(body["n_predict"], 8)  # bounded work per example
    body.setdefault("stream", False)
    status, _, content = request(server.url, "POST", path, body)
    assert status < 500, content
    if status >= 400:
        check_shape(path, status, json.loads(content))


def test_doctor_lists_the_dialects(cli: Callable[..., tuple[int, str, str]]) -> None:
    _, out, _ = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    detail = checks["api dialects"]["detail"]
    assert checks["api dialects"]["ok"] is True
    for route in ("/api", "/infill", "/completion", "/v1/responses", "/tokenizer_info"):
        assert route in detail
