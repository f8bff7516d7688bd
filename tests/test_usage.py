"""Usage per API key: each request and its tokens are attributed to the key that sent it,
in /metrics and GET /v1/usage, streams included; keys themselves never appear."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.api import ApiSettings
from app.api.http.auth import key_id
from tests.api_helpers import Running, request, shared_engine, shared_hypercube, start_server

ALICE, BOB = "alice-secret-key-123", "bob-secret-key-456"
ADMIN = "admin-secret-key-789"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    settings = ApiSettings(api_keys=(ALICE, BOB), admin_keys=(ADMIN,))
    running = start_server(shared_hypercube(), settings, engine=shared_engine())
    yield running
    running.stop()


def _post(server: Running, key: str, path: str, body: dict) -> dict:
    status, _, content = request(server.url, "POST", path, body,
                                 headers={"Authorization": f"Bearer {key}"})
    assert status == 200, content
    return json.loads(content)


def _stream_usage(server: Running, key: str) -> dict:
    status, _, content = request(server.url, "POST", "/v1/chat/completions", {
        "model": "hypercube", "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 6, "stream": True, "stream_options": {"include_usage": True}},
        headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    events = [json.loads(line[6:]) for line in content.decode().splitlines()
              if line.startswith("data: {")]
    return events[-1]["usage"]


def test_requests_and_tokens_are_counted_per_key(server: Running) -> None:
    first = _post(server, ALICE, "/v1/completions",
                  {"model": "hypercube", "prompt": "def ", "max_tokens": 5})["usage"]
    streamed = _stream_usage(server, ALICE)
    bob = _post(server, BOB, "/v1/completions",
                {"model": "hypercube", "prompt": "import os\n", "max_tokens": 3})["usage"]

    status, _, content = request(server.url, "GET", "/v1/usage",
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    assert status == 200
    report = {row["key"]: row for row in json.loads(content)["data"]}
    alice_row, bob_row = report[key_id(ALICE)], report[key_id(BOB)]
    assert alice_row["requests"] >= 2 and bob_row["requests"] >= 1
    assert alice_row["prompt_tokens"] == first["prompt_tokens"] + streamed["prompt_tokens"]
    assert alice_row["completion_tokens"] == (first["completion_tokens"]
                                              + streamed["completion_tokens"])
    assert bob_row["completion_tokens"] == bob["completion_tokens"]
    assert ALICE not in content.decode() and BOB not in content.decode()

    status, _, metrics = request(server.url, "GET", "/metrics",
                                 headers={"Authorization": f"Bearer {BOB}"})
    text = metrics.decode()
    assert (f'hypercube_key_tokens_total{{direction="completion",key="{key_id(BOB)}"}} '
            f'{float(bob["completion_tokens"])}') in text
    assert ALICE not in text and BOB not in text


def test_a_client_key_sees_only_its_own_usage(server: Running) -> None:
    _post(server, ALICE, "/v1/completions", {"model": "hypercube", "prompt": "x", "max_tokens": 1})
    _post(server, BOB, "/v1/completions", {"model": "hypercube", "prompt": "y", "max_tokens": 1})
    for key in (ALICE, BOB):
        assert set(_rows(server, key)) == {key_id(key)}
    assert {key_id(ALICE), key_id(BOB)} <= set(_rows(server, ADMIN))


def test_the_server_s_own_plumbing_is_not_usage(server: Running) -> None:
    before = _rows(server, ADMIN)
    for path in ("/health", "/metrics", "/v1/usage", "/"):
        request(server.url, "GET", path, headers={"Authorization": f"Bearer {BOB}"})
    assert _rows(server, ADMIN) == before


def _rows(server: Running, key: str) -> dict:
    status, _, content = request(server.url, "GET", "/v1/usage",
                                 headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    return {row["key"]: row["requests"] for row in json.loads(content)["data"]}
