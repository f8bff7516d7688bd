"""Every bad request gets an OpenAI error object with the right status, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api import ApiSettings
from tests.api_helpers import (
    Running,
    error_of,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
)

MODEL = "hypercube"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    # Ingestion allowed anywhere, so its field checks can be seen (tests/test_security_*
    # test the roots themselves).
    running = start_server(shared_hypercube(), ApiSettings(ingest_roots=(Path("/"),)),
                           engine=shared_engine())
    assert running.model == MODEL
    yield running
    running.stop()


def chat_body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
            **fields}


def completion_body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "def", "max_tokens": 2, **fields}


BAD_COMPLETIONS = [
    ({"prompt": "x"}, "model"),
    ({"model": MODEL}, "prompt"),
    (completion_body(model=5), "model"),
    (completion_body(prompt={}), "prompt"),
    (completion_body(prompt=[]), "prompt"),
    (completion_body(prompt=[[]]), "prompt[0]"),
    (completion_body(prompt=[-1]), "prompt"),
    (completion_body(prompt=[10**9]), "prompt"),
    (completion_body(prompt=["a", 5]), "prompt[1]"),
    (completion_body(max_tokens="8"), "max_tokens"),
    (completion_body(max_tokens=-1), "max_tokens"),
    (completion_body(max_tokens=1.5), "max_tokens"),
    (completion_body(temperature=3), "temperature"),
    (completion_body(temperature="hot"), "temperature"),
    (completion_body(top_p=1.5), "top_p"),
    (completion_body(top_k=-1), "top_k"),
    (completion_body(min_p=2), "min_p"),
    (completion_body(presence_penalty=-3), "presence_penalty"),
    (completion_body(frequency_penalty=True), "frequency_penalty"),
    (completion_body(n=0), "n"),
    (completion_body(n=129), "n"),
    (completion_body(best_of=1, n=2), "best_of"),
    (completion_body(best_of=3, stream=True), "best_of"),
    (completion_body(logprobs=6), "logprobs"),
    (completion_body(logprobs=True), "logprobs"),
    (completion_body(echo="yes"), "echo"),
    (completion_body(stream=1), "stream"),
    (completion_body(stop=5), "stop"),
    (completion_body(stop=["a"] * 17), "stop"),
    (completion_body(seed="abc"), "seed"),
    (completion_body(suffix=3), "suffix"),
    (completion_body(logit_bias={"x": 1}), "logit_bias"),
    (completion_body(logit_bias={"1": 101}), "logit_bias"),
    (completion_body(logit_bias={"999999": 1}), "logit_bias"),
    (completion_body(logit_bias=[1]), "logit_bias"),
    (completion_body(stream_options="x", stream=True), "stream_options"),
]

BAD_CHATS = [
    ({"model": MODEL}, "messages"),
    (chat_body(messages="hi"), "messages"),
    (chat_body(messages=[]), "messages"),
    (chat_body(messages=[5]), "messages[0]"),
    (chat_body(messages=[{"content": "x"}]), "messages[0].role"),
    (chat_body(messages=[{"role": "robot", "content": "x"}]), "messages[0].role"),
    (chat_body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (chat_body(messages=[{"role": "user", "content": [{"type": "image_url",
                                                       "image_url": {"url": "x"}}]}]),
     "messages[0].content[0].type"),
    (chat_body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
     "messages[0].content[0].text"),
    (chat_body(messages=[{"role": "user", "content": "x", "name": 3}]), "messages[0].name"),
    (chat_body(top_logprobs=2), "top_logprobs"),
    (chat_body(logprobs=True, top_logprobs=21), "top_logprobs"),
    (chat_body(max_completion_tokens="x"), "max_completion_tokens"),
    (chat_body(response_format={"type": "json_schema"}), "response_format.type"),
    (chat_body(response_format={"type": "xml"}), "response_format.type"),
    (chat_body(response_format="json"), "response_format"),
    (chat_body(n=2.5), "n"),
]

BAD_EMBEDDINGS = [
    ({"model": MODEL}, "input"),
    ({"model": MODEL, "input": ""}, "input"),
    ({"model": MODEL, "input": ["a", ""]}, "input[1]"),
    ({"model": MODEL, "input": 3}, "input"),
    ({"model": MODEL, "input": "a", "encoding_format": "hex"}, "encoding_format"),
    ({"model": MODEL, "input": "a", "dimensions": 0}, "dimensions"),
    ({"model": "nope", "input": "a"}, "model"),
]


@pytest.mark.parametrize("path, body, param", [
    *(("/v1/completions", b, p) for b, p in BAD_COMPLETIONS),
    *(("/v1/chat/completions", b, p) for b, p in BAD_CHATS),
    *(("/v1/embeddings", b, p) for b, p in BAD_EMBEDDINGS),
    ("/tokenize", {"prompt": 5}, "prompt"),
    ("/tokenize", {}, "prompt"),
    ("/v1/completions/batch", {"requests": "x"}, "requests"),
    ("/v1/batches", {"input_file_id": "file-x", "endpoint": "/v1/moderations",
                     "completion_window": "24h"}, "endpoint"),
    ("/v1/ingest", {"paths": []}, "paths"),
    ("/v1/ingest", {"paths": ["/definitely/not/here"]}, "paths"),
])
def test_bad_fields_are_400_naming_the_field(server: Running, path: str,
                                             body: dict[str, Any], param: str) -> None:
    status, result = post_json(server.url, path, body)
    error = error_of(status, result)
    expected_status = 404 if body.get("model") == "nope" else 400
    assert status == expected_status, result
    assert error["param"] == param, result
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("raw", [
    b"{", b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe", b'{"model": "\\ud800"}',
])
def test_malformed_bodies_are_400(server: Running, raw: bytes) -> None:
    status, _, content = request(server.url, "POST", "/v1/chat/completions", raw=raw,
                                 headers={"Content-Type": "application/json"})
    error = error_of(status, json.loads(content))
    assert status == 400
    assert error["type"] == "invalid_request_error"


def test_lone_surrogate_in_text_is_400(server: Running) -> None:
    # JSON allows escaped lone surrogates; a text containing one cannot be tokenized.
    raw = b'{"model": "hypercube", "prompt": "a\\udc00b", "max_tokens": 1}'
    status, _, content = request(server.url, "POST", "/v1/completions", raw=raw,
                                 headers={"Content-Type": "application/json"})
    assert status == 400
    assert error_of(status, json.loads(content))["param"] in ("prompt", None)


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/v1/nothing-here", 404, "unknown_url"),
    ("GET", "/v1/completions", 405, "method_not_allowed"),
    ("DELETE", "/v1/models", 405, "method_not_allowed"),
    ("GET", "/v1/files/file-missing", 404, "not_found"),
    ("GET", "/v1/batches/batch_missing", 404, "not_found"),
    ("GET", "/v1/ingest/999999", 404, "not_found"),
])
def test_routing_errors_are_openai_errors(server: Running, method: str, path: str,
                                          status: int, code: str) -> None:
    got, headers, content = request(server.url, method, path)
    assert got == status
    assert error_of(got, json.loads(content))["code"] == code
    if status == 405:
        assert "allow" in headers


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_wrong_content_type_is_415(server: Running, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, content = request(server.url, "POST", "/v1/completions",
                                 raw=json.dumps(completion_body()).encode(), headers=headers)
    assert status == 415
    assert error_of(status, json.loads(content))["code"] == "unsupported_media_type"


def test_json_content_type_with_charset_is_fine(server: Running) -> None:
    status, _, _ = request(server.url, "POST", "/v1/completions",
                           raw=json.dumps(completion_body()).encode(),
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200


def test_openai_client_raises_the_matching_exceptions(server: Running) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model=MODEL, prompt="x", temperature=5)
    assert (bad.value.status_code, bad.value.param) == (400, "temperature")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user",
                                                                  "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")


def test_no_error_response_leaks_internals(server: Running) -> None:
    status, _, content = request(server.url, "POST", "/v1/completions", raw=b"{\x00",
                                 headers={"Content-Type": "application/json"})
    assert status == 400
    assert b"Traceback" not in content and b"File \"" not in content


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=False, width=32)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=6), children, max_size=3),
    max_leaves=8)
_fields = st.sampled_from(["model", "prompt", "messages", "max_tokens", "temperature", "n",
                           "stop", "logprobs", "echo", "stream", "suffix", "best_of",
                           "top_logprobs", "response_format", "logit_bias", "seed", "input",
                           "stream_options", "max_completion_tokens"])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/completions", "/v1/chat/completions", "/v1/embeddings",
                             "/tokenize", "/detokenize"]),
       body=st.dictionaries(_fields, _json_values, max_size=6),
       keep_model=st.booleans())
def test_fuzzed_bodies_never_get_a_500(server: Running, path: str, body: dict[str, Any],
                                       keep_model: bool) -> None:
    if keep_model:
        body["model"] = MODEL
    status, _, content = request(server.url, "POST", path, body)
    assert status < 500, content
    if status >= 400:
        error_of(status, json.loads(content))
