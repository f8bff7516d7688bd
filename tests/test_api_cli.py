"""``hypercube serve`` as users run it, and a client that hangs up mid-stream."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import build_parser
from tests.api_helpers import (
    Running,
    build_hypercube,
    get_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
    stream_lines,
    wait_healthy,
)
from tests.conftest import REPO, run_hypercube, write_python_corpus
from tests.segment_files import copy_db

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
    copy_db(shared_hypercube(), isolated_user_dir / "hypercube.db")
    url = serve()  # type: ignore[operator]
    health = wait_healthy(url)
    assert health["database"]["path"] == str(isolated_user_dir / "hypercube.db")


def test_serve_refuses_a_missing_database(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "serve", "--db",
                             str(tmp_path / "none.db")], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"hypercube: error: no hypercube at {tmp_path / 'none.db'}"


def test_serve_on_a_taken_port_is_one_clear_line(stale_hypercube: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "app", "serve", "--db",
                                 str(stale_hypercube), "--port", str(port)], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"hypercube: error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another --port, or 0 for a free one)")
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def stale_hypercube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Documents without a model, as a run killed before its model update leaves them:
    ``serve`` refuses to load it (loading never writes) until ``db repair`` has run."""
    root = tmp_path_factory.mktemp("stale")
    write_python_corpus(root / "corpus", files=150, seed=9, lines=100)
    return build_hypercube(root / "stale.hypercube", root / "corpus", model=False)


@pytest.fixture(scope="module")
def current_hypercube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same documents with their model, as a finished ingest run leaves them."""
    root = tmp_path_factory.mktemp("current")
    write_python_corpus(root / "corpus", files=150, seed=9, lines=100)
    return build_hypercube(root / "current.hypercube", root / "corpus")


def file_state(db: Path) -> tuple[str, int, bool]:
    """The file's bytes (as a digest), its mtime, and whether a WAL holds anything."""
    wal = db.with_name(db.name + "-wal")
    return (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns,
            wal.exists() and wal.stat().st_size > 0)


def wait_for_health(url: str, ready: Callable[[dict[str, Any]], bool],
                    timeout: float = 60.0) -> dict[str, Any]:
    """Poll /health until ``ready`` says yes of its body."""
    deadline = time.monotonic() + timeout
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = json.loads(request(url, "GET", "/health")[2])
        if ready(health):
            return health
        time.sleep(0.05)
    raise AssertionError(f"/health never got there: {health}")


def start_serving(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    """``hypercube serve`` on a copy of ``db`` in the test's own (empty) data folder, so the
    kernels are compiled and the model built at start; returns the child, its URL and the
    line that announced it."""
    child = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "-q",
                              "--db", str(db)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    line = child.stderr.readline()
    match = LISTENING.search(line)
    assert match, line + child.stderr.read()
    return child, match.group(1), line.rstrip("\n")


def stop(child: subprocess.Popen[str], signum: int) -> tuple[int, list[str]]:
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    return child.returncode, err.splitlines()


def test_serve_never_writes_a_stale_hypercube_and_names_the_repair(stale_hypercube: Path,
                                                                   tmp_path: Path) -> None:
    db = Path(copy_db(stale_hypercube, tmp_path / "h.hypercube"))
    before = file_state(db)
    child, url, announced = start_serving(db)
    assert "serving" in announced
    health = wait_for_health(url, lambda h: h["status"] == "error")
    assert health["model_loaded"] is False
    assert "hypercube db repair" in health["error"], health
    status, lines = stop(child, signal.SIGTERM)
    assert status == 0 and lines[-1] == "hypercube: stopping", lines
    assert not any("Traceback" in line for line in lines), lines
    assert file_state(db) == before  # serving (and its failed loads) wrote nothing
    repaired = run_hypercube("db", "repair", "--db", db)
    assert repaired.returncode == 0, repaired.stderr
    assert "repaired: built" in repaired.stdout
    assert repaired.stdout.splitlines()[-1] == "ok: the model is up to date"
    # The repaired file serves; and serving a current one writes nothing either.
    before = file_state(db)
    child, url, _ = start_serving(db)
    assert wait_healthy(url)["status"] == "ok"
    assert stop(child, signal.SIGTERM) == (0, ["hypercube: stopping"])
    assert file_state(db)[:2] == before[:2]
    check = run_hypercube("db", "check", "--db", db)
    assert (check.returncode, check.stderr) == (0, ""), check.stderr


@pytest.mark.slow
def test_serve_stops_cleanly_at_any_moment_of_its_start(current_hypercube: Path,
                                                        tmp_path: Path) -> None:
    # SIGTERM at moments spread over the start: importing, compiling the kernels (a cold
    # kernel cache each time), binding, building the model. Before the fix, a signal while the
    # loader thread was inside LLVM aborted the process (-6) or crashed it (-11).
    # The moments are found from the start itself, not from fixed delays (which all landed
    # in the imports on a loaded machine): the "serving" line (bound, the model loading),
    # /health saying ok (ready), and fractions of the times these took in the first rounds.
    db = Path(copy_db(current_hypercube, tmp_path / "h.hypercube"))
    outcomes = []

    def round_(number: int, when: str, fraction: float = 0.0,
               timings: tuple[float, float] | None = None) -> tuple[float, float]:
        env = {**os.environ, "HYPERCUBE_DATA_DIR": str(tmp_path / f"data-{number}")}
        spawned = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "-q",
                                  "--db", str(db)], cwd=REPO, env=env, stderr=subprocess.PIPE,
                                 text=True)
        assert child.stderr is not None
        to_serving = to_ready = 0.0
        if when == "before serving":
            assert timings is not None
            time.sleep(fraction * timings[0])  # a moment inside the imports or the compiling
        else:
            line = child.stderr.readline()  # blocks until the port is bound
            match = LISTENING.search(line)
            assert match, line
            to_serving = time.monotonic() - spawned
            if when == "loading":
                assert timings is not None
                time.sleep(fraction * timings[1])  # a moment of the model's build
            elif when == "ready":
                wait_healthy(match.group(1))
                to_ready = time.monotonic() - spawned - to_serving
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
        lines = [line for line in err.splitlines() if not line.startswith("hypercube: serving")]
        outcomes.append((when, fraction, child.returncode, lines))
        return to_serving, to_ready

    timings = (round_(0, "serving")[0], round_(1, "ready")[1])
    number = 2
    for when, fractions in (("before serving", (0.2, 0.5, 0.8)),
                            ("loading", (0.25, 0.5, 0.75))):
        for fraction in fractions:
            round_(number, when, fraction, timings)
            number += 1
    for when, _, status, lines in outcomes:
        # Killed by the signal's default action only while Python was still importing,
        # before the command ran (and before anything was open): no output at all.
        assert (status, lines) in ((0, ["hypercube: stopping"]), (-signal.SIGTERM, [])), \
            outcomes
        if when != "before serving":
            assert (status, lines) == (0, ["hypercube: stopping"]), outcomes
    check = run_hypercube("db", "check", "--db", db)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_when_ready(current_hypercube: Path, tmp_path: Path,
                                        signum: int) -> None:
    db = Path(copy_db(current_hypercube, tmp_path / "h.hypercube"))
    child, url, _ = start_serving(db)
    assert wait_healthy(url)["model_loaded"] is True
    assert stop(child, signum) == (0, ["hypercube: stopping"])
    check = run_hypercube("db", "check", "--db", db)
    assert check.returncode == 0, check.stderr


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
    # A completion: chat replies end where the template says a turn ends, and this one
    # must still be generating when the client leaves.
    lines = stream_lines(server.url, "/v1/completions", {
        "model": "hypercube", "prompt": "Go on.", "stream": True, "max_tokens": budget})
    assert next(lines).startswith(b"data: ")
    lines.close()  # hang up after the first event
    deadline = time.monotonic() + 30
    while metric(server.url, "hypercube_http_requests_in_flight") > 1:
        assert time.monotonic() < deadline, "the stream never ended"
        time.sleep(0.02)
    assert metric(server.url, "hypercube_generations_cancelled_total") == cancelled + 1
    spent = metric(server.url, 'hypercube_tokens_total{direction="completion"}') - generated
    assert spent < budget
