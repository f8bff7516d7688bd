"""Regex search runs in linear time (RE2) within a budget, and never freezes the server."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api.native.code import QueryGate
from app.code.search import Budget, Searcher
from app.code.texts import DocumentTexts
from app.errors import InvalidRequest, RateLimited
from app.store import Store
from tests.api_helpers import Running, build_hypercube, error_of, request, start_server

# The audit's pattern: Python's backtracking engine took 50+ minutes on it, GIL held.
EVIL = r"(\s+)+[^\s\w]{9}"


@pytest.fixture(scope="module")
def spaced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hypercube whose files hold long runs of white space (what the pattern chokes on)."""
    corpus = tmp_path_factory.mktemp("spaced")
    for i in range(3):
        lines = [f"def padded_{i}(x):", "    return x" + " " * 60 + "# end", ""]
        (corpus / f"padded_{i}.py").write_text("\n".join(lines) + ("\t \n" * 40),
                                               encoding="utf-8")
    return build_hypercube(tmp_path_factory.mktemp("db") / "s.db", corpus)


@pytest.fixture(scope="module")
def server(spaced: Path) -> Iterator[Running]:
    running = start_server(spaced)
    yield running
    running.stop()


def search(server: Running, pattern: str, timeout: float = 20.0) -> tuple[int, dict]:
    query = urllib.parse.urlencode({"q": pattern, "mode": "regex"})
    status, _, content = request(server.url, "GET", f"/v1/code/search?{query}",
                                 timeout=timeout)
    return status, json.loads(content)


def test_the_catastrophic_pattern_answers_at_once(server: Running) -> None:
    health: list[float] = []

    def probe() -> None:
        started = time.monotonic()
        request(server.url, "GET", "/health", timeout=20)
        health.append(time.monotonic() - started)

    started = time.monotonic()
    prober = threading.Thread(target=probe)
    prober.start()
    status, result = search(server, EVIL)
    prober.join()
    assert status == 200
    assert result["data"] == []  # no 9 punctuation characters in a row anywhere
    assert time.monotonic() - started < 5
    assert health and health[0] < 5


def test_regex_search_still_finds_matches(server: Running) -> None:
    status, result = search(server, r"def padded_\d\(x\):")
    assert status == 200
    assert sorted(hit["path"].rsplit("/", 1)[1] for hit in result["data"]) == [
        "padded_0.py", "padded_1.py", "padded_2.py"]
    status, result = search(server, r"^    return x\s+# END$")  # case-insensitive, multiline
    assert status == 200 and len(result["data"]) == 3


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=x)y", r"(?<!a)b", "(unclosed"])
def test_patterns_re2_cannot_run_are_400(server: Running, pattern: str) -> None:
    status, result = search(server, pattern)
    assert status == 400
    error = error_of(status, result)
    assert error["param"] == "query"
    assert "RE2" in error["message"]


def test_each_search_has_a_budget(spaced: Path) -> None:
    with Store(spaced, readonly=True) as store:
        searcher = Searcher(store.conn, DocumentTexts(store.conn), Budget(text_bytes=10))
        with pytest.raises(InvalidRequest) as info:
            searcher.search("return", mode="substring")
        assert info.value.code == "query_too_expensive"
        searcher = Searcher(store.conn, DocumentTexts(store.conn), Budget(seconds=0))
        with pytest.raises(InvalidRequest):
            searcher.search(EVIL, mode="regex")
        assert Searcher(store.conn, DocumentTexts(store.conn)).search("padded_1", limit=5)


def test_queries_waiting_for_the_index_are_few() -> None:
    gate = QueryGate(2)
    with gate, gate, pytest.raises(RateLimited):
        gate.__enter__()
    with gate:  # released again
        pass
