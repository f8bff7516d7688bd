"""``hypercube serve`` as users run it, and a client that hangs up mid-stream."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import build_parser
from tests.api_helpers import (
    Running,
    get_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
    stream_lines,
    wait_healthy,
)
from tests.conftest import REPO

LISTENING = re.compile(r"on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start ``hypercube serve ARGS`` in a child process; yields a starter returning its URL."""
    children: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> str:
        child = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", "0", "-q", *args],
            cwd=REPO, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stderr is not None
        line = child.stderr.readline()
        match = LISTENING.search(line)
        assert match, line + child.stderr.read()
        return match.group(1)

    yield start
    for child in children:
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
        assert child.stderr is not None
        child.stderr.close()


def test_serve_help_lists_its_options() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--help"])


def test_serve_answers_on_the_given_database(serve: object) -> None:
    url = serve("--db", str(shared_hypercube()))  # type: ignore[operator]
    health = wait_healthy(url)
    assert health["status"] == "ok"
    assert health["database"]["path"] == str(shared_hypercube())
    status, models = get_json(url, "/v1/models")
    assert (status, models["data"][0]["id"]) == (200, "hypercube")


def test_serve_from_the_environment_with_a_key(serve: object) -> None:
    url = serve(env={"HYPERCUBE_DB": str(shared_hypercube()),  # type: ignore[operator]
                     "HYPERCUBE_API_KEY": "sk-env"})
    wait_healthy(url)
    assert request(url, "GET", "/v1/models")[0] == 401
    assert request(url, "GET", "/v1/models", headers={"x-api-key": "sk-env"})[0] == 200


def test_serve_without_db_serves_the_users_hypercube(serve: object,
                                                     isolated_user_dir: Path) -> None:
    # Without --db: the user's own hypercube when there is one (else the embedded default,
    # built on first use; app/default_hypercube.py and its tests cover that build).
    shutil.copy(shared_hypercube(), isolated_user_dir / "hypercube.db")
    url = serve()  # type: ignore[operator]
    health = wait_healthy(url)
    assert health["database"]["path"] == str(isolated_user_dir / "hypercube.db")


def test_serve_refuses_a_missing_database(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "serve", "--db",
                             str(tmp_path / "none.db")], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"hypercube: error: no hypercube at {tmp_path / 'none.db'}"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def metric(url: str, name: str) -> float:
    text = request(url, "GET", "/metrics")[2].decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + " ") or line.startswith(name + "{")]
    return sum(values)


def test_a_client_that_hangs_up_stops_its_generation(server: Running) -> None:
    cancelled = metric(server.url, "hypercube_generations_cancelled_total")
    generated = metric(server.url, 'hypercube_tokens_total{direction="completion"}')
    budget = server.engine.info.context_length - 64
    lines = stream_lines(server.url, "/v1/chat/completions", {
        "model": "hypercube", "messages": [{"role": "user", "content": "Go on."}],
        "stream": True, "max_tokens": budget})
    assert next(lines).startswith(b"data: ")
    lines.close()  # hang up after the first event
    deadline = time.monotonic() + 30
    while metric(server.url, "hypercube_http_requests_in_flight") > 1:
        assert time.monotonic() < deadline, "the stream never ended"
        time.sleep(0.02)
    assert metric(server.url, "hypercube_generations_cancelled_total") == cancelled + 1
    spent = metric(server.url, 'hypercube_tokens_total{direction="completion"}') - generated
    assert spent < budget
