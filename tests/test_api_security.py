"""API keys, CORS, rate limits, body limits, request ids and access logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from app.api import ApiSettings
from app.api.config import read_key_file
from app.api.http.ratelimit import TokenBuckets
from app.errors import InvalidRequest
from app.settings import Settings
from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
)

KEYS = ("sk-first-key", "sk-second-key")
ORIGIN = "http://localhost:5173"
BODY = {"model": "hypercube", "prompt": "def", "max_tokens": 1}


@pytest.fixture(scope="module")
def guarded() -> Iterator[Running]:
    settings = ApiSettings(api_keys=KEYS, cors_origins=(ORIGIN,), max_body_bytes=4096)
    running = start_server(shared_hypercube(), settings, engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def limited() -> Iterator[Running]:
    # 1 request per 1000 s with bursts of 3: the fourth request in a test is always refused.
    settings = ApiSettings(rate_limit=0.001, rate_burst=3)
    running = start_server(shared_hypercube(), settings, engine=shared_engine())
    yield running
    running.stop()


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer sk-first-key"},
    {"Authorization": "bearer sk-second-key"},
    {"x-api-key": "sk-second-key"},
])
def test_valid_keys_are_accepted(guarded: Running, headers: dict[str, str]) -> None:
    status, _, _ = request(guarded.url, "POST", "/v1/completions", BODY, headers=headers)
    assert status == 200


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer sk-first-ke"},
    {"Authorization": "Bearer sk-first-key-and-more"},
    {"Authorization": "Basic c2stZmlyc3Qta2V5"},
    {"x-api-key": ""},
])
def test_missing_or_wrong_keys_are_401(guarded: Running, headers: dict[str, str]) -> None:
    for method, path, body in [("POST", "/v1/completions", BODY), ("GET", "/v1/models", None),
                               ("GET", "/metrics", None), ("GET", "/openapi.json", None),
                               ("GET", "/v1/code/file?path=docs/about.md", None),
                               ("GET", "/v1/hypercube/points", None)]:
        status, _, content = request(guarded.url, method, path, body, headers=headers)
        assert status == 401, path
        assert error_of(status, json.loads(content))["code"] == "invalid_api_key"


def test_health_stays_open(guarded: Running) -> None:
    status, health = get_json(guarded.url, "/health")
    assert (status, health["status"]) == (200, "ok")


def test_openai_client_authentication_error(guarded: Running) -> None:
    bad = openai.OpenAI(base_url=guarded.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.code == "invalid_api_key"
    good = openai.OpenAI(base_url=guarded.url + "/v1", api_key=KEYS[0], max_retries=0)
    assert [m.id for m in good.models.list()] == ["hypercube"]


def test_cors_allows_the_configured_origin_only(guarded: Running) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    status, headers, _ = request(guarded.url, "OPTIONS", "/v1/chat/completions",
                                 headers=preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, _ = request(guarded.url, "POST", "/v1/completions", BODY, headers={
        "Origin": ORIGIN, "Authorization": f"Bearer {KEYS[0]}"})
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = request(guarded.url, "POST", "/v1/completions", BODY, headers={
        "Origin": "http://evil.example", "Authorization": f"Bearer {KEYS[0]}"})
    assert "access-control-allow-origin" not in headers


def test_cors_is_off_by_default(limited: Running) -> None:
    _, headers, _ = request(limited.url, "GET", "/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in headers


def test_body_over_the_limit_is_413(guarded: Running) -> None:
    big = {**BODY, "prompt": "x" * 5000}
    status, _, content = request(guarded.url, "POST", "/v1/completions", big,
                                 headers={"Authorization": f"Bearer {KEYS[0]}"})
    assert status == 413
    assert error_of(status, json.loads(content))["code"] == "payload_too_large"


def test_rate_limit_is_429_with_retry_after(limited: Running) -> None:
    headers = {"X-Forwarded-For": "ignored"}
    statuses = []
    for _ in range(4):
        status, response_headers, content = request(limited.url, "GET", "/v1/models",
                                                     headers=headers)
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]
    error = error_of(429, json.loads(content))
    assert error["code"] == "rate_limit_exceeded"
    assert int(response_headers["retry-after"]) >= 1
    assert int(response_headers["retry-after-ms"]) >= 1
    # /health is never limited: supervisors must always get through.
    assert request(limited.url, "GET", "/health")[0] == 200
    client = openai.OpenAI(base_url=limited.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.models.list()


def test_token_buckets_refill_at_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=2)
    assert [buckets.take("a", now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("b", now=0.0) == 0.0  # clients are separate
    assert buckets.take("a", now=0.5) == 0.0
    assert buckets.take("a", now=0.5) == pytest.approx(0.5)


def test_request_ids_and_access_log(limited: Running, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hypercube.access"):
        _, headers, _ = request(limited.url, "GET", "/health",
                                headers={"X-Request-Id": "trace-123"})
        _, generated, _ = request(limited.url, "GET", "/health")
    assert headers["x-request-id"] == "trace-123"
    assert generated["x-request-id"].startswith("req_")
    entries = [json.loads(r.getMessage()) for r in caplog.records
               if r.name == "hypercube.access"]
    mine = [e for e in entries if e["request_id"] == "trace-123"]
    assert len(mine) == 1
    assert mine[0]["method"] == "GET"
    assert mine[0]["path"] == "/health"
    assert mine[0]["status"] == 200
    assert mine[0]["ms"] >= 0


def test_key_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nsk-a\n\n  sk-b  \n", encoding="utf-8")
    assert read_key_file(keys) == ["sk-a", "sk-b"]
    monkeypatch.setenv("HYPERCUBE_API_KEY", "sk-env")
    monkeypatch.setenv("HYPERCUBE_RATE_LIMIT", "2.5")
    settings = ApiSettings.resolve(Settings.from_environment(), api_key_file=keys)
    assert settings.api_keys == ("sk-env", "sk-a", "sk-b")
    assert settings.rate_limit == 2.5
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(InvalidRequest):
        read_key_file(tmp_path / "empty.txt")
