"""Ingestion over HTTP: start, follow, cancel and list runs; the model reloads afterwards while
requests already running finish on the old one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api import ApiSettings
from app.ingest.workers import CHUNK_FILES
from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    parse_sse,
    post_json,
    request,
    shared_hypercube,
    start_server,
    stream_lines,
    validate_ours,
)
from tests.conftest import write_python_corpus
from tests.segment_files import copy_db


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("ingest") / "i.db"
    copy_db(shared_hypercube(), db)
    # Its own engine (this module replaces it); ingestion from the tests' temporary folders.
    root = tmp_path_factory.getbasetemp()
    running = start_server(db, ApiSettings(ingest_roots=(root.resolve(),)))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ours(server: Running) -> dict[str, Any]:
    return get_json(server.url, "/openapi.json")[1]


def stats(server: Running) -> dict[str, Any]:
    status, result = get_json(server.url, "/v1/hypercube/stats")
    assert status == 200
    return result


def test_stats_count_what_the_hypercube_holds(server: Running, ours: dict[str, Any]) -> None:
    result = stats(server)
    validate_ours(ours, "HypercubeStats", result)
    info = server.engine.info
    counts = result["counts"]
    assert counts["documents"] == info.documents
    assert counts["tokens"] == info.corpus_tokens
    assert counts["document_bytes"] == info.corpus_bytes
    assert counts["vocabulary"] == info.vocab_size
    assert counts["atoms"] > 0 and counts["compositions"] > 0


def test_points_sample_the_hypercube_in_4d(server: Running, ours: dict[str, Any]) -> None:
    status, result = get_json(server.url, "/v1/hypercube/points?limit=600")
    assert status == 200
    validate_ours(ours, "HypercubePoints", result)
    points = result["data"]
    assert len(points) == 600
    atoms = [p for p in points if p["kind"] == "atom"]
    assert atoms and points[:len(atoms)] == atoms  # every atom first, by codepoint
    assert {p["kind"] for p in points} == {"atom", "token", "identifier"}
    assert next(p for p in atoms if p["label"] == "A")["group"] == "letter"
    for p in points:
        assert abs(sum(p[axis] ** 2 for axis in "xyzw") - 1) < 1e-6, p  # on S³
    # Identifiers the corpus defines carry the kind and language of their definitions.
    assert {"function", "python"} <= {v for p in points for v in (p["group"], p["language"])}
    # A stable sample: the same points on every call, so a page redraws identically.
    assert get_json(server.url, "/v1/hypercube/points?limit=600")[1] == result
    assert get_json(server.url, "/v1/hypercube/points?limit=300")[1]["data"] == points[:300]


@pytest.mark.parametrize("query", ["limit=0", "limit=20001", "limit=many"])
def test_points_limit_is_checked(server: Running, query: str) -> None:
    status, body = get_json(server.url, f"/v1/hypercube/points?{query}")
    assert status == 400
    assert error_of(status, body)["param"] == "limit"


def test_the_old_ui_only_points_route_is_gone(server: Running) -> None:
    assert request(server.url, "GET", "/ui-data/points")[0] == 404


def test_ingest_run_adds_documents_and_reloads_the_model(server: Running, tmp_path: Path,
                                                         ours: dict[str, Any]) -> None:
    before = stats(server)
    old_engine = server.engine
    # A request in flight when the model is swapped finishes on the model it started with.
    in_flight = stream_lines(server.url, "/v1/completions", {
        "model": "hypercube", "prompt": "def", "max_tokens": 40, "stream": True})
    first_line = next(in_flight)
    assert first_line.startswith(b"data: ")
    old_fingerprint = json.loads(first_line[6:])["system_fingerprint"]

    corpus = tmp_path / "new"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"zebra_{i}.py").write_text(
            f"def zebra_unicorn_{i}(stripes):\n    return stripes * {i + 2}\n" * 20,
            encoding="utf-8")
    status, run = post_json(server.url, "/v1/ingest", {"paths": [str(corpus)]})
    assert status == 202
    validate_ours(ours, "IngestRun", run)
    assert run["roots"] == [str(corpus.resolve())]

    status, headers, content = request(server.url, "GET", f"/v1/ingest/{run['id']}/events")
    assert headers["content-type"].startswith("text/event-stream")
    events = parse_sse(content)
    assert events[-1] == "[DONE]"
    final = events[-2]
    validate_ours(ours, "IngestRun", final)
    assert final["status"] == "done"
    assert final["files"]["added"] == 3
    assert final["model_reloaded"] is True
    assert final["progress"]["files_done"] == final["progress"]["files_total"] == 3

    rest = b"".join(in_flight)
    assert rest.rstrip().endswith(b"data: [DONE]")
    assert old_fingerprint in rest.decode()

    assert server.engine is not old_engine
    assert server.engine.info.documents == old_engine.info.documents + 3
    after = stats(server)
    assert after["counts"]["documents"] == before["counts"]["documents"] + 3
    status, models = get_json(server.url, "/v1/models")
    assert models["data"][0]["corpus"]["documents"] == after["counts"]["documents"]
    status, result = post_json(server.url, "/v1/completions", {
        "model": "hypercube", "prompt": "def", "max_tokens": 1})
    assert result["system_fingerprint"] != old_fingerprint

    status, listing = get_json(server.url, "/v1/ingest")
    validate_ours(ours, "IngestRunList", listing)
    assert listing["data"][0]["id"] == run["id"]
    status, one = get_json(server.url, f"/v1/ingest/{run['id']}")
    assert (status, one["status"], one["files"]["added"]) == (200, "done", 3)


def test_an_unchanged_run_keeps_the_model(server: Running, tmp_path: Path) -> None:
    corpus = tmp_path / "same"
    corpus.mkdir()
    (corpus / "a.txt").write_text("hello hypercube\n", encoding="utf-8")
    post_json(server.url, "/v1/ingest", {"paths": [str(corpus)]})
    run_id = get_json(server.url, "/v1/ingest")[1]["data"][0]["id"]
    events = parse_sse(request(server.url, "GET", f"/v1/ingest/{run_id}/events")[2])
    assert events[-2]["model_reloaded"] is True
    engine = server.engine
    _, run = post_json(server.url, "/v1/ingest", {"paths": [str(corpus)]})
    events = parse_sse(request(server.url, "GET", f"/v1/ingest/{run['id']}/events")[2])
    assert events[-2]["files"]["unchanged"] == 1
    assert events[-2]["model_reloaded"] is False
    assert server.engine is engine


def test_a_run_with_worker_processes(server: Running, tmp_path: Path) -> None:
    corpus = tmp_path / "parallel"
    write_python_corpus(corpus, files=2 * CHUNK_FILES + 1, lines=10)  # three chunks
    status, body = post_json(server.url, "/v1/ingest", {"paths": [str(corpus)], "workers": 0})
    assert status == 400 and error_of(status, body)["param"] == "workers"
    status, run = post_json(server.url, "/v1/ingest", {"paths": [str(corpus)], "workers": 2})
    assert status == 202
    events = parse_sse(request(server.url, "GET", f"/v1/ingest/{run['id']}/events")[2])
    assert events[-2]["status"] == "done"
    assert events[-2]["files"]["added"] == 2 * CHUNK_FILES + 1


def test_cancel_stops_a_run(server: Running, tmp_path: Path) -> None:
    corpus = tmp_path / "many"
    for i in range(3000):
        folder = corpus / f"d{i % 30}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_text(f"note {i}: the quick brown fox {i * 7}\n",
                                          encoding="utf-8")
    documents = stats(server)["counts"]["documents"]
    status, run = post_json(server.url, "/v1/ingest", {"paths": [str(corpus)]})
    assert status == 202
    status, cancelled = post_json(server.url, f"/v1/ingest/{run['id']}/cancel", {})
    assert status == 200
    assert cancelled["status"] == "cancelled"
    assert stats(server)["counts"]["documents"] < documents + 3000
