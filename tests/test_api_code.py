"""Code intelligence over HTTP: /v1/code/… answers from the hypercube's code facts."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    session_dir,
    shared_engine,
    shared_hypercube,
    start_server,
    validate_ours,
)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def definition() -> tuple[str, Path, int]:
    """A function the corpus defines: (name, file, line)."""
    shared_hypercube()
    path = sorted((session_dir() / "corpus").rglob("*.py"))[0]
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(r"def (\w+)\(", line)
        if match:
            return match.group(1), path, number
    raise AssertionError("the corpus has no function")


def test_defs_finds_a_definition(server: Running, definition: tuple[str, Path, int]) -> None:
    name, path, line = definition
    status, result = get_json(server.url, f"/v1/code/defs?name={name}")
    assert status == 200
    validate_ours(get_json(server.url, "/openapi.json")[1], "CodeList", result)
    hit = next(d for d in result["data"] if d["path"] == str(path.resolve()))
    assert (hit["name"], hit["kind"], hit["start_line"]) == (name, "function", line)
    status, by_position = get_json(server.url, f"/v1/code/defs?at={path}:{line}:5")
    assert status == 200
    assert by_position["data"][0]["name"] == name


def test_search_and_navigation_answer(server: Running,
                                      definition: tuple[str, Path, int]) -> None:
    name, path, line = definition
    status, found = get_json(server.url, "/v1/code/search?q=return%20total&limit=3")
    assert status == 200
    assert 1 <= len(found["data"]) <= 3
    assert all("return total" in hit["match"] or "return total" in hit["snippet"]
               for hit in found["data"])
    for query in (f"refs?name={name}", f"callers?name={name}", f"callees?name={name}",
                  f"implementations?name={name}"):
        status, result = get_json(server.url, f"/v1/code/{query}")
        assert status == 200, result
        assert result["object"] == "list"
    status, similar = get_json(server.url, f"/v1/code/similar?at={path}:{line}")
    assert status == 200
    assert similar["query"]["name"] == name


@pytest.mark.parametrize("query, param", [
    ("refs", "name"),
    ("defs", "name"),
    ("search?q=x&limit=many", "limit"),
    ("search?q=x&case_sensitive=maybe", "case_sensitive"),
    ("similar", "at"),
    ("analogy?example=x", "to_type"),
    ("file", "path"),
])
def test_bad_code_queries_are_400(server: Running, query: str, param: str) -> None:
    status, body = get_json(server.url, f"/v1/code/{query}")
    assert status == 400
    assert error_of(status, body)["param"] == param


def test_unknown_names_are_empty_or_404(server: Running) -> None:
    status, body = get_json(server.url, "/v1/code/defs?name=no_such_function_anywhere")
    assert (status, body) == (200, {"object": "list", "data": []})
    status, body = get_json(server.url, "/v1/code/similar?at=/no/such/file.py:3")
    assert status == 404
    error_of(status, body)


def test_file_is_the_whole_ingested_text(server: Running,
                                         definition: tuple[str, Path, int]) -> None:
    _, path, _ = definition
    text = path.read_text(encoding="utf-8")
    status, body = get_json(server.url, f"/v1/code/file?path={urllib.parse.quote(str(path))}")
    assert status == 200, body
    validate_ours(get_json(server.url, "/openapi.json")[1], "CodeFile", body)
    assert body == {"path": str(path.resolve()), "language": "python", "text": text,
                    "lines": len(text.splitlines())}
    # A unique end of the path is enough, as for the other code queries.
    suffix = f"{path.parent.name}/{path.name}"
    assert get_json(server.url, f"/v1/code/file?path={suffix}") == (200, body)
    unicode = session_dir() / "corpus" / "docs" / "unicode.txt"
    status, body = get_json(server.url, "/v1/code/file?path=docs/unicode.txt")
    assert (status, body["text"]) == (200, unicode.read_text(encoding="utf-8"))
    assert body["lines"] == 5


@pytest.mark.parametrize("path", [
    "/etc/passwd", "../../../../../../etc/passwd", "/etc/hostname", "/", ".",
    "pyproject.toml",  # the server's own working directory is not ingested either
])
def test_file_serves_nothing_that_was_not_ingested(server: Running, path: str) -> None:
    status, body = get_json(server.url, f"/v1/code/file?path={urllib.parse.quote(path)}")
    assert status == 404, body
    assert error_of(status, body)["param"] == "path"


def test_file_ignores_files_added_after_the_ingest(server: Running) -> None:
    # A file in an ingested folder that was never ingested itself is not served, even though
    # it is right there on the disk.
    shared_hypercube()
    late = session_dir() / "corpus" / "docs" / "late-secret.txt"
    late.write_text("not ingested\n", encoding="utf-8")
    try:
        status, body = get_json(server.url, f"/v1/code/file?path={urllib.parse.quote(str(late))}")
        assert status == 404
        assert "not in the hypercube" in error_of(status, body)["message"]
    finally:
        late.unlink()


def test_files_lists_every_ingested_file_in_path_order(server: Running) -> None:
    shared_hypercube()
    corpus = (session_dir() / "corpus").resolve()
    on_disk = sorted(str(p.resolve()) for p in corpus.rglob("*") if p.is_file())
    status, body = get_json(server.url, "/v1/code/files")
    assert status == 200, body
    paths = [item["path"] for item in body["data"]]
    assert paths == sorted(paths) and set(paths) == set(on_disk)
    unicode = next(item for item in body["data"] if item["path"].endswith("docs/unicode.txt"))
    assert unicode["size"] == len((corpus / "docs" / "unicode.txt").read_bytes())
    # Filtered by a piece of the path (any case) and by language, and capped.
    status, body = get_json(server.url, "/v1/code/files?contains=DOCS/&language=text")
    assert status == 200
    assert [item["path"] for item in body["data"]] == [p for p in on_disk if "/docs/" in p
                                                      and p.endswith(".txt")]
    assert len(get_json(server.url, "/v1/code/files?limit=2")[1]["data"]) == 2
    status, body = get_json(server.url, "/v1/code/files?limit=many")
    assert status == 400 and error_of(status, body)["param"] == "limit"


def test_a_query_is_answered_while_another_holds_an_index(
        server: Running, definition: tuple[str, Path, int]) -> None:
    # A slow query (here: the test itself) holds one index of the pool; the next query gets
    # the other one instead of waiting behind it.
    name = definition[0]
    assert server.app.state.code_indexes.size >= 2
    with server.app.state.code_indexes.lend() as held:
        status, result = get_json(server.url, f"/v1/code/defs?name={name}")
        assert status == 200 and result["data"]
        assert held.defs(name)  # and the held one still answers on its own connection
