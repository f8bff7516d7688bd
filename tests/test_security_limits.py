"""No request can take gigabytes or minutes, grow /metrics, or get a 500: body limits before
decoding, the work cap, disconnects of non-streamed requests, bounded metric labels, Waitress's
own errors as OpenAI errors, huge run ids, and a full disk (over HTTP and on the CLI)."""

from __future__ import annotations

import http.client
import json
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import apsw
import openai
import pytest

from app.api import ApiSettings
from app.cli.common import run_command
from app.errors import StoreFull
from tests.api_helpers import (
    Running,
    error_of,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
    write_corpus,
)
from tests.conftest import REPO
from tests.segment_files import copy_db

BODY = {"model": "hypercube", "prompt": "def", "max_tokens": 1}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def metric(url: str, name: str) -> float:
    text = request(url, "GET", "/metrics")[2].decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def send_streamed_body(url: str, path: str, chunks: Iterator[bytes], length: int | None,
                       timeout: float = 60) -> tuple[int, dict]:
    """POST a body produced chunk by chunk (never whole in this process's memory);
    ``length=None`` sends it chunked."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if length is not None:
        headers["Content-Length"] = str(length)
    try:
        conn.request("POST", path, body=chunks, headers=headers,
                     encode_chunked=length is None)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):
        # The server answered and closed before the whole body was sent.
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def token_ids_body(megabytes: int) -> tuple[Iterator[bytes], int]:
    """``{"model": …, "prompt": [1, 1, 1, …]}`` of about ``megabytes`` MB."""
    head = b'{"model": "hypercube", "max_tokens": 1, "prompt": [1'
    block = b", 1" * 349_525  # ~1 MB
    tail = b"]}"

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(megabytes):
            yield block
        yield tail
    return chunks(), len(head) + len(block) * megabytes + len(tail)


# -- bodies and token arrays ------------------------------------------------------------------

def test_a_95_mb_body_of_token_ids_is_refused_quickly_and_cheaply(server: Running) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.monotonic()
    chunks, length = token_ids_body(95)
    status, body = send_streamed_body(server.url, "/v1/completions", chunks, length)
    assert status == 413
    assert error_of(status, body)["code"] == "payload_too_large"
    # Chunked, so no Content-Length warns in advance: refused after the JSON limit is read.
    chunks, _ = token_ids_body(20)
    status, body = send_streamed_body(server.url, "/v1/completions", chunks, None)
    assert status == 413
    assert error_of(status, body)["code"] == "payload_too_large"
    assert time.monotonic() - started < 15
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak_after - peak_before < 400_000_000  # was +4.7 GB


def test_token_arrays_longer_than_the_context_are_refused_first(server: Running) -> None:
    context = server.engine.info.context_length
    for prompt, param in (([1] * (context + 1), "prompt"),
                          ([[1, 2], [1] * (context + 5)], "prompt[1]")):
        status, body = post_json(server.url, "/v1/completions", {**BODY, "prompt": prompt})
        assert status == 400
        error = error_of(status, body)
        assert (error["code"], error["param"]) == ("context_length_exceeded", param)
    # Out-of-vocabulary ids in a long array: the length is what is reported.
    status, body = post_json(server.url, "/v1/embeddings", {
        "model": "hypercube", "input": [10**9] * (context + 1)})
    assert error_of(status, body)["code"] == "context_length_exceeded"


# -- the work cap ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "param"), [
    ("/v1/completions", {**BODY, "best_of": 20, "n": 1, "max_tokens": 4000}, "max_tokens"),
    ("/v1/completions", {**BODY, "prompt": ["a"] * 100, "max_tokens": 1000}, "max_tokens"),
    ("/v1/completions", {**BODY, "n": 128, "max_tokens": 1000}, "max_tokens"),
    ("/v1/chat/completions", {"model": "hypercube", "n": 8, "max_tokens": 10000,
                              "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ("/v1/completions/batch", {"requests": [{**BODY, "max_tokens": 1000}] * 100}, "requests"),
    ("/v1/completions/batch", {"requests": [BODY] * 257}, "requests"),
])
def test_work_per_request_is_capped(server: Running, path: str, body: dict,
                                    param: str) -> None:
    started = time.monotonic()
    status, result = post_json(server.url, path, body)
    assert status == 400, result
    assert error_of(status, result)["param"] == param
    assert time.monotonic() - started < 5


def test_a_batch_request_over_the_cap_is_refused_in_its_own_place(server: Running) -> None:
    # It was answered twice, run despite the cap and then refused, shifting the others.
    status, result = post_json(server.url, "/v1/completions/batch", {"requests": [
        {**BODY, "best_of": 20, "n": 1, "max_tokens": 4000}, BODY]})
    assert status == 200, result
    over, fine = result["data"]
    assert (over["error"]["code"], over["error"]["param"]) == ("request_too_large",
                                                               "max_tokens")
    assert fine["object"] == "text_completion"


def test_the_cap_is_a_setting() -> None:
    running = start_server(shared_hypercube(), ApiSettings(max_request_tokens=10),
                           engine=shared_engine())
    try:
        status, result = post_json(running.url, "/v1/completions", {**BODY, "max_tokens": 11})
        assert error_of(status, result)["code"] == "request_too_large"
        assert post_json(running.url, "/v1/completions", {**BODY, "max_tokens": 10})[0] == 200
    finally:
        running.stop()


# -- disconnects of non-streamed requests ----------------------------------------------------

@pytest.fixture(scope="module")
def generous() -> Iterator[Running]:
    """A server that lets one request generate for many seconds."""
    running = start_server(shared_hypercube(), ApiSettings(max_request_tokens=10**7),
                           engine=shared_engine())
    yield running
    running.stop()


def test_a_non_streamed_request_stops_when_its_client_leaves(generous: Running) -> None:
    server = generous
    cancelled = metric(server.url, "hypercube_generations_cancelled_total")
    budget = server.engine.info.context_length - 64
    parts = urllib.parse.urlsplit(server.url)
    # 64 choices of ~16k tokens: about half a minute of work if nothing stops it.
    body = json.dumps({"model": "hypercube", "prompt": "Go on.", "max_tokens": budget,
                       "n": 64, "stop": []}).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    deadline = time.monotonic() + 30
    while metric(server.url, "hypercube_http_requests_in_flight") < 2:  # ours is generating
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sock.close()  # the client gives up (a timeout)
    left = time.monotonic()
    while metric(server.url, "hypercube_http_requests_in_flight") > 1:
        assert time.monotonic() < deadline, "the generation ran on after its client left"
        time.sleep(0.02)
    assert time.monotonic() - left < 10  # ~30 s of work had it run on
    assert metric(server.url, "hypercube_generations_cancelled_total") == cancelled + 1


def test_a_waiting_client_still_gets_its_answer(server: Running) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    answer = client.completions.create(model="hypercube", prompt="def", max_tokens=200)
    assert answer.usage.completion_tokens > 0


# -- /metrics stays bounded ------------------------------------------------------------------------

def test_random_methods_and_paths_do_not_grow_metrics(server: Running) -> None:
    rng = random.Random(12)
    parts = urllib.parse.urlsplit(server.url)

    def hammer(count: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            for _ in range(count):
                method = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=8))
                path = "/" + "".join(rng.choices("abcdefghij0123456789", k=12))
                if rng.random() < 0.3:
                    method = rng.choice(["GET", "POST", "DELETE"])
                conn.request(method, path)
                conn.getresponse().read()
        finally:
            conn.close()

    hammer(20)
    before = len(request(server.url, "GET", "/metrics")[2])
    hammer(1000)
    after = len(request(server.url, "GET", "/metrics")[2])
    assert after - before < 2000, (before, after)  # only counts' digits may grow
    text = request(server.url, "GET", "/metrics")[2].decode()
    assert 'method="other"' in text


# -- no 500s ----------------------------------------------------------------------------------

def test_waitress_size_errors_are_openai_errors() -> None:
    running = start_server(shared_hypercube(), ApiSettings(max_body_bytes=1000),
                           engine=shared_engine())
    try:
        # Over Waitress's own limit (ours + 64 KiB), chunked: Waitress answers itself.
        status, body = send_streamed_body(running.url, "/v1/files",
                                          iter([b"x" * 10_000] * 20), None)
        assert status == 413
        assert error_of(status, body)["code"] == "payload_too_large"
        status, body = send_streamed_body(running.url, "/v1/completions",
                                          iter([b"x" * 100_000]), 100_000)
        assert status == 413
        assert error_of(status, body)["code"] == "payload_too_large"
    finally:
        running.stop()


@pytest.mark.parametrize("path", ["/v1/ingest/9223372036854775808",
                                  "/v1/ingest/99999999999999999999999/events",
                                  "/v1/ingest/18446744073709551616/cancel"])
def test_run_ids_beyond_sqlite_integers_are_404(server: Running, path: str) -> None:
    method = "POST" if path.endswith("cancel") else "GET"
    status, _, content = request(server.url, method, path)
    assert status == 404
    error_of(status, json.loads(content))


def test_an_upload_on_a_full_disk_is_507(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    copy_db(shared_hypercube(), db)
    running = start_server(db, engine=shared_engine())
    try:
        # SQLite's own size limit gives the same SQLITE_FULL a full disk does.
        conn = running.app.state.records.store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0)
        for _ in range(2):  # and again: no "cannot rollback" the second time
            with pytest.raises(openai.APIStatusError) as info:
                client.files.create(file=("big.jsonl", b"{}\n" * 2_000_000), purpose="batch")
            assert info.value.status_code == 507
            error = info.value.body
            assert error["code"] == "insufficient_storage"
            assert "disk is full" in error["message"]
            assert "rollback" not in error["message"]
    finally:
        running.stop()


def test_sqlite_errors_reach_the_cli_as_one_line() -> None:
    def full(_args: object) -> int:
        raise apsw.FullError("database or disk is full")

    class Args:
        command = "ingest"

    with pytest.raises(StoreFull) as info:
        run_command(full, Args())  # type: ignore[arg-type]
    assert info.value.message == ("cannot run 'hypercube ingest': the disk is full "
                                  "(free some space and retry)")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_during_ingest_is_one_line_and_exit_1(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")

    def small_disk() -> None:
        # Files may grow to 300 KB: writes past it fail as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    result = subprocess.run(
        [sys.executable, "-m", "app", "ingest", "--db", str(tmp_path / "h.db"), str(corpus)],
        capture_output=True, text=True, cwd=REPO, timeout=300, preexec_fn=small_disk)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("hypercube: error: "), result.stderr
