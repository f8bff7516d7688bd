"""Files and the OpenAI batch API: upload, run in the background, survive a restart."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api_helpers import (
    Running,
    get_json,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
    validate_openai,
)
from tests.segment_files import copy_db

MODEL = "hypercube"


@pytest.fixture(scope="module")
def hypercube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared hypercube, so batch records stay in this module."""
    db = tmp_path_factory.mktemp("batches") / "b.db"
    copy_db(shared_hypercube(), db)
    return db


@pytest.fixture(scope="module")
def server(hypercube: Path) -> Iterator[Running]:
    running = start_server(hypercube, engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def chat_line(custom_id: str, content: str, **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": [{"role": "user", "content": content}],
                     "max_tokens": 4, "temperature": 0, **body}}


def wait_for(client: openai.OpenAI, batch_id: str, statuses: set[str],
             timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} stayed {batch.status}")


def test_files_upload_list_retrieve_download_delete(server: Running,
                                                    client: openai.OpenAI) -> None:
    content = jsonl([chat_line("a", "hi")])
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (len(content), "in.jsonl",
                                                                    "batch")
    status, raw = get_json(server.url, f"/v1/files/{uploaded.id}")
    assert status == 200
    validate_openai("OpenAIFile", raw)
    status, listing = get_json(server.url, "/v1/files?purpose=batch&limit=100")
    validate_openai("ListFilesResponse", listing)
    assert uploaded.id in [f["id"] for f in listing["data"]]
    assert client.files.content(uploaded.id).read() == content
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted is True
    assert request(server.url, "DELETE", f"/v1/files/{uploaded.id}")[0] == 404
    validate_openai("DeleteFileResponse", deleted.model_dump())


def test_file_upload_needs_a_valid_purpose(server: Running, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")),
                            purpose="nonsense")  # type: ignore[arg-type]
    assert info.value.param == "purpose"


def test_batch_runs_to_completion_with_output_and_error_files(
        server: Running, client: openai.OpenAI) -> None:
    lines = [chat_line("first", "Add two numbers."), chat_line("second", "Sort a list."),
             chat_line("broken", "x", temperature=9)]
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"job": "test"})
    assert batch.status in ("validating", "in_progress", "completed")
    done = wait_for(client, batch.id, {"completed", "failed"})
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 3, "completed": 2, "failed": 1}
    assert done.metadata == {"job": "test"}
    validate_openai("Batch", get_json(server.url, f"/v1/batches/{batch.id}")[1])
    output = [json.loads(line) for line in
              client.files.content(done.output_file_id).read().splitlines()]
    assert [o["custom_id"] for o in output] == ["first", "second"]
    for item in output:
        assert item["response"]["status_code"] == 200
        validate_openai("CreateChatCompletionResponse", item["response"]["body"])
    # The same request made directly gives the same answer (temperature 0).
    _, direct = post_json(server.url, "/v1/chat/completions", lines[0]["body"])
    assert output[0]["response"]["body"]["choices"] == direct["choices"]
    errors = [json.loads(line) for line in
              client.files.content(done.error_file_id).read().splitlines()]
    assert errors[0]["custom_id"] == "broken"
    assert errors[0]["response"]["status_code"] == 400
    assert errors[0]["response"]["body"]["error"]["param"] == "temperature"
    usage = get_json(server.url, f"/v1/batches/{batch.id}")[1]["usage"]
    assert usage["input_tokens"] == sum(o["response"]["body"]["usage"]["prompt_tokens"]
                                        for o in output)
    listing = get_json(server.url, "/v1/batches?limit=100")[1]
    validate_openai("ListBatchesResponse", listing)
    assert batch.id in [b["id"] for b in listing["data"]]


def test_completions_and_embeddings_batches(client: openai.OpenAI) -> None:
    for endpoint, body in [
        ("/v1/completions", {"model": MODEL, "prompt": "def", "max_tokens": 3}),
        ("/v1/embeddings", {"model": MODEL, "input": "import os", "dimensions": 8}),
    ]:
        line = {"custom_id": "one", "method": "POST", "url": endpoint, "body": body}
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(jsonl([line]))),
                                       purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint=endpoint,  # type: ignore[arg-type]
                                      completion_window="24h")
        done = wait_for(client, batch.id, {"completed", "failed"})
        assert done.request_counts.completed == 1, done


@pytest.mark.parametrize("content, code", [
    (b"not json\n", "invalid_json_line"),
    (b"", "empty_file"),
    (jsonl([{**chat_line("a", "x"), "url": "/v1/completions"}]), "mismatched_url"),
    (jsonl([chat_line("a", "x"), chat_line("a", "y")]), "duplicate_custom_id"),
])
def test_invalid_input_files_fail_the_batch(client: openai.OpenAI, content: bytes,
                                            code: str) -> None:
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    failed = wait_for(client, batch.id, {"failed", "completed"})
    assert failed.status == "failed"
    assert failed.errors is not None
    assert failed.errors.data[0].code == code


def test_batch_needs_a_batch_file(client: openai.OpenAI) -> None:
    other = client.files.create(file=("notes.txt", io.BytesIO(b"x")), purpose="user_data")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions",
                              completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions",
                              completion_window="24h")


def test_a_restart_loses_no_batch(hypercube: Path, tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    copy_db(hypercube, db)
    first = start_server(db, engine=shared_engine())
    first.app.state.batches.stop()  # the server goes down before it gets to the batch
    client = openai.OpenAI(base_url=first.url + "/v1", api_key="x", max_retries=0)
    lines = [chat_line(f"q{i}", f"question {i}") for i in range(3)]
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    cancelled = client.batches.create(input_file_id=uploaded.id,
                                      endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(cancelled.id).status == "cancelling"
    first.stop()

    second = start_server(db, engine=shared_engine())
    try:
        client = openai.OpenAI(base_url=second.url + "/v1", api_key="x", max_retries=0)
        done = wait_for(client, batch.id, {"completed", "failed"})
        assert done.status == "completed"
        assert done.request_counts.completed == 3
        stopped = wait_for(client, cancelled.id, {"cancelled"})
        assert stopped.cancelled_at is not None
        assert stopped.request_counts.completed == 0
    finally:
        second.stop()
