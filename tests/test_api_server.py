"""The API against the real server: models, completions, chat, streaming, tokenizer,
embeddings, health, metrics and the OpenAPI document, checked with exact values and against
OpenAI's own schemas."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import threading
from collections.abc import Iterator
from typing import Any

import falcon.inspect
import numpy as np
import openai
import pytest

from app.api import ApiSettings
from app.chat_template import Message, render
from tests.api_helpers import (
    Running,
    get_json,
    openai_client,
    parse_sse,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
    validate_openai,
    validate_ours,
)

PROMPT = "def total_count(value, count=3):\n    total = value + count"
CHAT = [{"role": "system", "content": "You write Python."},
        {"role": "user", "content": "Add two numbers."}]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai_client(server)


@pytest.fixture(scope="module")
def ours(server: Running) -> dict[str, Any]:
    status, document = get_json(server.url, "/openapi.json")
    assert status == 200
    return document


def count(server: Running, text: str) -> int:
    return len(server.engine.tokenizer.encode(text))


def completion(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/completions",
                               {"model": server.model, **body})
    assert status == 200, result
    validate_openai("CreateCompletionResponse", result)
    return result


def chat(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/chat/completions",
                               {"model": server.model, "messages": CHAT, **body})
    assert status == 200, result
    validate_openai("CreateChatCompletionResponse", result)
    return result


# -- models ---------------------------------------------------------------------------------

def test_models_list_and_retrieve(server: Running, client: openai.OpenAI,
                                  ours: dict[str, Any]) -> None:
    status, listing = get_json(server.url, "/v1/models")
    assert status == 200
    validate_openai("ListModelsResponse", listing)
    validate_ours(ours, "ModelList", listing)
    info = server.engine.info
    (model,) = listing["data"]
    assert model == {
        "id": info.id, "object": "model", "created": info.created, "owned_by": "hypercube",
        "context_length": info.context_length, "vocab_size": info.vocab_size,
        "corpus": {"bytes": info.corpus_bytes, "tokens": info.corpus_tokens,
                   "documents": info.documents},
    }
    assert [m.id for m in client.models.list()] == [info.id]
    assert client.models.retrieve(info.id).id == info.id
    status, one = get_json(server.url, f"/v1/models/{info.id}")
    assert (status, one) == (200, model)


def test_unknown_model_is_404_model_not_found(server: Running, client: openai.OpenAI) -> None:
    status, body = get_json(server.url, "/v1/models/gpt-4")
    assert status == 404
    validate_openai("ErrorResponse", body)
    assert body["error"]["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="gpt-4", prompt="x")
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"


# -- completions ----------------------------------------------------------------------------

def test_completion_usage_and_logprobs_are_exact(server: Running) -> None:
    result = completion(server, prompt=PROMPT, max_tokens=8, temperature=0, logprobs=0)
    (choice,) = result["choices"]
    tokens = choice["logprobs"]["tokens"]
    assert result["object"] == "text_completion"
    assert result["id"].startswith("cmpl-")
    assert result["system_fingerprint"].startswith("fp_")
    assert result["usage"] == {"prompt_tokens": count(server, PROMPT),
                               "completion_tokens": len(tokens),
                               "total_tokens": count(server, PROMPT) + len(tokens)}
    assert 1 <= len(tokens) <= 8
    assert choice["finish_reason"] == ("length" if len(tokens) == 8 else "stop")
    assert all(lp <= 0 for lp in choice["logprobs"]["token_logprobs"])
    offsets = choice["logprobs"]["text_offset"]
    # Token healing re-writes the prompt's last word (" count"): the first token starts
    # there, and prompt + completion read the same as prompt minus that word + the tokens.
    assert offsets[0] == len(PROMPT) - len(" count")
    assert PROMPT[:offsets[0]] + "".join(tokens) == PROMPT + choice["text"]
    assert offsets == sorted(offsets)


def test_greedy_and_seeded_generation_repeat(server: Running) -> None:
    greedy = [completion(server, prompt=PROMPT, max_tokens=12, temperature=0)
              ["choices"][0]["text"] for _ in range(2)]
    assert greedy[0] == greedy[1]
    seeded = [completion(server, prompt=PROMPT, max_tokens=12, seed=1234)
              ["choices"][0]["text"] for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_prompt_forms_give_choices_in_order(server: Running) -> None:
    tokenizer = server.engine.tokenizer
    ids = [int(i) for i in tokenizer.encode(PROMPT)]
    by_text = completion(server, prompt=PROMPT, max_tokens=6, temperature=0)
    by_ids = completion(server, prompt=ids, max_tokens=6, temperature=0)
    assert by_ids["choices"][0]["text"] == by_text["choices"][0]["text"]
    assert by_ids["usage"] == by_text["usage"]
    prompts = [PROMPT, "import os\n"]
    many = completion(server, prompt=prompts, n=2, max_tokens=4, seed=5)
    assert [c["index"] for c in many["choices"]] == [0, 1, 2, 3]
    assert many["usage"]["prompt_tokens"] == sum(count(server, p) for p in prompts)
    arrays = completion(server, prompt=[ids, ids[:3]], max_tokens=4, temperature=0)
    assert len(arrays["choices"]) == 2
    assert arrays["usage"]["prompt_tokens"] == len(ids) + 3


def test_n_choices_differ_by_seed_and_best_of_picks_one(server: Running) -> None:
    many = completion(server, prompt=PROMPT, n=3, max_tokens=10, seed=99, logprobs=0)
    assert [c["index"] for c in many["choices"]] == [0, 1, 2]
    generated = sum(len(c["logprobs"]["tokens"]) for c in many["choices"])
    assert many["usage"]["completion_tokens"] == generated
    best = completion(server, prompt=PROMPT, n=1, best_of=3, max_tokens=10, seed=99,
                      logprobs=0)
    (choice,) = best["choices"]
    # best_of ranks by mean log-probability per token; the winner is one of the candidates.
    means = {c["text"]: np.mean(c["logprobs"]["token_logprobs"]) for c in many["choices"]}
    assert choice["text"] in means
    assert means[choice["text"]] == pytest.approx(max(means.values()))
    assert best["usage"]["completion_tokens"] == generated


def test_echo_logprobs_with_zero_max_tokens_scores_the_prompt(server: Running) -> None:
    result = completion(server, prompt=PROMPT, echo=True, logprobs=1, max_tokens=0)
    (choice,) = result["choices"]
    logprobs = choice["logprobs"]
    ids = server.engine.tokenizer.encode(PROMPT)
    scored = server.engine.score([int(i) for i in ids], 1)
    assert choice["text"] == PROMPT
    assert choice["finish_reason"] == "length"
    assert logprobs["tokens"] == [t.text for t in scored]
    assert logprobs["token_logprobs"][0] is None
    assert logprobs["top_logprobs"][0] is None
    assert logprobs["token_logprobs"][1:] == pytest.approx([t.logprob for t in scored[1:]])
    pieces = server.engine.tokenizer.token_strings(ids)
    assert [PROMPT[o:o + len(p)] for o, p in zip(logprobs["text_offset"], pieces,
                                                 strict=True)] == pieces
    assert result["usage"] == {"prompt_tokens": len(ids), "completion_tokens": 0,
                               "total_tokens": len(ids)}


def test_echo_with_generation_prefixes_the_prompt(server: Running) -> None:
    plain = completion(server, prompt=PROMPT, max_tokens=5, temperature=0)
    echoed = completion(server, prompt=PROMPT, max_tokens=5, temperature=0, echo=True,
                        logprobs=0)
    assert echoed["choices"][0]["text"] == PROMPT + plain["choices"][0]["text"]
    lp = echoed["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == count(server, PROMPT) + echoed["usage"]["completion_tokens"]


def test_stop_sequence_ends_the_text_before_it(server: Running) -> None:
    full = completion(server, prompt=PROMPT, max_tokens=24, temperature=0)["choices"][0]["text"]
    assert len(full) > 6
    stop = full[len(full) // 2:len(full) // 2 + 3]
    cut = completion(server, prompt=PROMPT, max_tokens=24, temperature=0, stop=[stop])
    assert cut["choices"][0]["text"] == full[:full.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"


def test_suffix_fills_in_the_middle(server: Running) -> None:
    prefix, suffix = "def add(value, count):\n", "\n    return total\n"
    result = completion(server, prompt=prefix, suffix=suffix, max_tokens=12, seed=3)
    assert result["usage"]["prompt_tokens"] == count(server, prefix) + count(server, suffix)
    assert "return total" not in result["choices"][0]["text"]


def test_sampling_controls_are_accepted(server: Running) -> None:
    result = completion(server, prompt=PROMPT, max_tokens=6, temperature=0.7, top_p=0.9,
                        top_k=20, min_p=0.01, presence_penalty=0.5, frequency_penalty=0.5,
                        logit_bias={"0": -100}, seed=11, user="tester")
    assert result["usage"]["completion_tokens"] <= 6


def test_engines_path_serves_completions(server: Running) -> None:
    status, result = post_json(server.url, f"/v1/engines/{server.model}/completions",
                               {"prompt": PROMPT, "max_tokens": 3, "temperature": 0})
    assert status == 200
    validate_openai("CreateCompletionResponse", result)
    assert result["model"] == server.model


def test_prompt_over_the_context_window_is_refused(server: Running,
                                                   client: openai.OpenAI) -> None:
    limit = server.engine.info.context_length
    prompt_tokens = count(server, PROMPT)
    status, body = post_json(server.url, "/v1/completions",
                             {"model": server.model, "prompt": PROMPT, "max_tokens": limit})
    assert status == 400
    error = body["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error", "context_length_exceeded", "prompt")
    assert str(limit) in error["message"]
    assert str(prompt_tokens + limit) in error["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=server.model, messages=CHAT, max_tokens=limit)
    assert info.value.code == "context_length_exceeded"
    assert info.value.param == "messages"


def test_completion_stream_raw(server: Running) -> None:
    body = {"model": server.model, "prompt": PROMPT, "max_tokens": 10, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    status, headers, events = sse_events(server.url, "/v1/completions", body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks, usage_chunk = events[:-2], events[-2]
    assert len({c["id"] for c in events[:-1]}) == 1
    for chunk in events[:-1]:
        validate_openai("CreateCompletionResponse", chunk)
    assert usage_chunk["choices"] == []
    assert [c["choices"][0]["finish_reason"] for c in chunks][:-1] == [None] * (len(chunks) - 1)
    whole = completion(server, prompt=PROMPT, max_tokens=10, temperature=0)
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert usage_chunk["usage"] == whole["usage"]


def test_completion_stream_with_the_openai_client(server: Running,
                                                  client: openai.OpenAI) -> None:
    stream = client.completions.create(model=server.model, prompt=PROMPT, max_tokens=6,
                                       temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == count(server, PROMPT)
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")


def test_completions_batch_answers_each_request(server: Running) -> None:
    status, result = post_json(server.url, "/v1/completions/batch", {"requests": [
        {"model": server.model, "prompt": PROMPT, "max_tokens": 4, "temperature": 0},
        {"model": "nope", "prompt": PROMPT},
        {"model": server.model, "prompt": "import", "max_tokens": 2, "temperature": 0},
    ]})
    assert status == 200
    first, bad, third = result["data"]
    validate_openai("CreateCompletionResponse", first)
    validate_openai("CreateCompletionResponse", third)
    assert bad["error"]["code"] == "model_not_found"
    alone = completion(server, prompt=PROMPT, max_tokens=4, temperature=0)
    assert first["choices"][0]["text"] == alone["choices"][0]["text"]


# -- chat -----------------------------------------------------------------------------------

def test_chat_usage_matches_the_template(server: Running, client: openai.OpenAI) -> None:
    result = chat(server, max_tokens=8, temperature=0, logprobs=True)
    (choice,) = result["choices"]
    expected_prompt = count(server, render([Message("system", "You write Python."),
                                            Message("user", "Add two numbers.")]))
    assert result["object"] == "chat.completion"
    assert result["id"].startswith("chatcmpl-")
    assert choice["message"]["role"] == "assistant"
    assert result["usage"]["prompt_tokens"] == expected_prompt
    assert result["usage"]["completion_tokens"] == len(choice["logprobs"]["content"])
    _, tokenized = post_json(server.url, "/tokenize", {"model": server.model, "messages": CHAT})
    assert tokenized["count"] == expected_prompt
    response = client.chat.completions.create(model=server.model, messages=CHAT, max_tokens=8,
                                              temperature=0)
    assert response.choices[0].message.content == choice["message"]["content"]


def test_chat_content_forms_and_roles(server: Running) -> None:
    as_parts = [{"role": "developer", "content": [{"type": "text", "text": "You write "},
                                                  {"type": "text", "text": "Python."}]},
                {"role": "user", "content": "Add two numbers."}]
    a = chat(server, max_tokens=6, temperature=0)
    b = chat(server, messages=as_parts, max_tokens=6, temperature=0)
    assert a["usage"] == b["usage"]
    assert a["choices"][0]["message"] == b["choices"][0]["message"]
    history = [*CHAT, {"role": "assistant", "content": "def add(a, b):"},
               {"role": "user", "content": ""}, {"role": "assistant", "content": None}]
    longer = chat(server, messages=history, max_tokens=4, temperature=0)
    assert longer["usage"]["prompt_tokens"] > a["usage"]["prompt_tokens"]


def test_chat_n_seed_and_max_completion_tokens(server: Running) -> None:
    result = chat(server, n=2, seed=42, max_tokens=50, max_completion_tokens=5)
    assert [c["index"] for c in result["choices"]] == [0, 1]
    assert result["usage"]["completion_tokens"] <= 10
    again = chat(server, n=2, seed=42, max_completion_tokens=5)
    assert [c["message"] for c in again["choices"]] == [c["message"]
                                                        for c in result["choices"]]


def test_chat_without_max_tokens_stops_at_the_server_default() -> None:
    running = start_server(shared_hypercube(), ApiSettings(chat_max_tokens=7),
                           engine=shared_engine())
    try:
        result = chat(running, temperature=0, stop=["no such stop"])
        (choice,) = result["choices"]
        if choice["finish_reason"] == "length":
            assert result["usage"]["completion_tokens"] == 7
        else:
            assert result["usage"]["completion_tokens"] < 7
        explicit = chat(running, temperature=0, max_tokens=12, stop=["no such stop"])
        assert explicit["usage"]["completion_tokens"] > 7 or \
            explicit["choices"][0]["finish_reason"] == "stop"
    finally:
        running.stop()


def test_chat_top_logprobs(server: Running) -> None:
    result = chat(server, max_tokens=5, temperature=0, logprobs=True, top_logprobs=3)
    content = result["choices"][0]["logprobs"]["content"]
    assert len(content) == result["usage"]["completion_tokens"]
    for entry in content:
        assert 1 <= len(entry["top_logprobs"]) <= 3
        assert entry["logprob"] <= 0
        assert entry["top_logprobs"][0]["logprob"] >= entry["top_logprobs"][-1]["logprob"]


def test_chat_stop_sequence(server: Running) -> None:
    full = chat(server, max_tokens=24, temperature=0)["choices"][0]["message"]["content"]
    assert len(full) > 6
    stop = full[len(full) // 2:len(full) // 2 + 3]
    cut = chat(server, max_tokens=24, temperature=0, stop=stop)
    assert cut["choices"][0]["message"]["content"] == full[:full.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_mode_replies_are_json_objects(server: Running, seed: int) -> None:
    result = chat(server, seed=seed, max_tokens=40,
                  response_format={"type": "json_object"},
                  messages=[{"role": "user", "content": "Reply with a JSON object."}])
    content = result["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_chat_stream_raw(server: Running) -> None:
    body = {"model": server.model, "messages": CHAT, "max_tokens": 10, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    status, _, events = sse_events(server.url, "/v1/chat/completions", body)
    assert status == 200
    assert events[-1] == "[DONE]"
    chunks, usage_chunk = events[:-2], events[-2]
    for chunk in events[:-1]:
        validate_openai("CreateChatCompletionStreamResponse", chunk)
        assert chunk["object"] == "chat.completion.chunk"
    assert len({c["id"] for c in events[:-1]}) == 1
    whole = chat(server, max_tokens=10, temperature=0)
    # A grounded answer's first delta also carries its sources (contract 3).
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant", "content": "",
        "sources": whole["choices"][0]["message"]["sources"]}
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert all(c["usage"] is None for c in chunks)
    assert usage_chunk["choices"] == []
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert usage_chunk["usage"] == whole["usage"]


def test_chat_stream_without_usage_has_no_usage_field(server: Running) -> None:
    body = {"model": server.model, "messages": CHAT, "max_tokens": 3, "stream": True}
    _, _, events = sse_events(server.url, "/v1/chat/completions", body)
    assert events[-1] == "[DONE]"
    assert all("usage" not in e for e in events[:-1])
    assert events[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_chat_stream_with_the_openai_client(server: Running, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=server.model, messages=CHAT, max_tokens=6,
                                            temperature=0, stream=True, logprobs=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    streamed_tokens = sum(len(c.choices[0].logprobs.content) for c in chunks[1:-2]
                          if c.choices[0].logprobs is not None)
    assert chunks[-1].usage.completion_tokens == streamed_tokens
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")


def test_long_stream_does_not_block_other_requests(server: Running) -> None:
    started = threading.Event()
    body = {"model": server.model, "messages": CHAT, "stream": True, "max_tokens": 64}

    def hold_stream() -> None:
        from tests.api_helpers import stream_lines

        for _ in stream_lines(server.url, "/v1/chat/completions", body):
            started.set()
            started.wait()
            break

    thread = threading.Thread(target=hold_stream)
    thread.start()
    assert started.wait(30)
    status, _, _ = request(server.url, "GET", "/health")
    assert status == 200
    assert completion(server, prompt="x", max_tokens=1)["usage"]["completion_tokens"] <= 1
    thread.join(30)


# -- tokenizer ------------------------------------------------------------------------------

def test_tokenize_and_detokenize_round_trip(server: Running, ours: dict[str, Any]) -> None:
    text = "def total(count):  # Café 😀\n"
    status, result = post_json(server.url, "/tokenize",
                               {"prompt": text, "with_pieces": True})
    assert status == 200
    validate_ours(ours, "Tokenized", result)
    ids = [int(i) for i in server.engine.tokenizer.encode(text)]
    assert result["tokens"] == ids
    assert result["count"] == len(ids)
    assert result["max_model_len"] == server.engine.info.context_length
    assert "".join(result["pieces"]) == text
    status, back = post_json(server.url, "/detokenize", {"tokens": ids})
    # "content" is llama.cpp's name for the same text (app/api/native/tokenize.py)
    assert (status, back) == (200, {"prompt": text, "content": text})
    validate_ours(ours, "Detokenized", back)


@pytest.mark.parametrize("body, param", [
    ({"tokens": [-1]}, "tokens"),
    ({"tokens": "abc"}, "tokens"),
    ({}, "tokens"),
])
def test_detokenize_rejects_bad_ids(server: Running, body: dict[str, Any], param: str) -> None:
    status, result = post_json(server.url, "/detokenize", body)
    assert status == 400
    assert result["error"]["param"] == param


# -- embeddings -----------------------------------------------------------------------------

def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_place_near_duplicates_close(server: Running, client: openai.OpenAI,
                                                ours: dict[str, Any]) -> None:
    code = ("def total_count(value, count=3):\n    total = value + count * 2\n"
            "    return total  # the sum of value and count\n")
    edited = code.replace("count * 2", "count * 3")
    other = "The weather in the mountains was cold, and the travellers rested in a hut."
    status, result = post_json(server.url, "/v1/embeddings",
                               {"model": server.model, "input": [code, edited, other]})
    assert status == 200
    validate_openai("CreateEmbeddingResponse", result)
    validate_ours(ours, "EmbeddingList", result)
    a, b, c = (d["embedding"] for d in result["data"])
    assert len(a) == 512
    assert math.isclose(float(np.linalg.norm(a)), 1.0, rel_tol=1e-5)
    assert _cos(a, b) > 0.8
    assert _cos(a, b) > _cos(a, c) + 0.5
    assert result["usage"]["prompt_tokens"] == sum(count(server, t) for t in (code, edited,
                                                                                other))
    # The openai client asks for base64 and decodes it: the same vectors.
    via_client = client.embeddings.create(model=server.model, input=[code]).data[0].embedding
    assert via_client == pytest.approx(a, abs=1e-6)


def test_embeddings_base64_and_dimensions(server: Running) -> None:
    body = {"model": server.model, "input": "import os", "dimensions": 64}
    _, floats = post_json(server.url, "/v1/embeddings", body)
    _, packed = post_json(server.url, "/v1/embeddings", {**body, "encoding_format": "base64"})
    vector = floats["data"][0]["embedding"]
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert len(vector) == 64
    assert list(struct.unpack("<64f", raw)) == pytest.approx(vector, abs=1e-7)
    ids = [int(i) for i in server.engine.tokenizer.encode("import os")]
    _, by_ids = post_json(server.url, "/v1/embeddings", {**body, "input": [ids]})
    assert by_ids["data"][0]["embedding"] == vector


# -- health, metrics, openapi ---------------------------------------------------------------

def test_health_reports_ready(server: Running, ours: dict[str, Any]) -> None:
    status, health = get_json(server.url, "/health")
    assert status == 200
    validate_ours(ours, "Health", health)
    assert health["status"] == "ok"
    assert health["model_loaded"] is True
    assert health["database"]["reachable"] is True
    assert health["memory"]["rss_bytes"] > 0
    assert health["model"] == server.model


def test_metrics_count_requests_tokens_and_errors(server: Running) -> None:
    result = completion(server, prompt=PROMPT, max_tokens=3, temperature=0)
    post_json(server.url, "/v1/completions", {"model": "missing", "prompt": "x"})
    status, headers, body = request(server.url, "GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}
    assert lines['hypercube_http_requests_total{method="POST",route="/v1/completions",'
                 'status="200"}'] >= 1
    assert lines['hypercube_errors_total{code="model_not_found",'
                 'type="invalid_request_error"}'] >= 1
    assert lines['hypercube_tokens_total{direction="prompt"}'] >= result["usage"][
        "prompt_tokens"]
    assert lines['hypercube_tokens_total{direction="completion"}'] >= result["usage"][
        "completion_tokens"]
    assert 'hypercube_http_request_duration_seconds_bucket{le="0.005",' \
           'route="/v1/completions"}' in lines
    assert lines["hypercube_http_requests_in_flight"] >= 1  # this very request
    assert "hypercube_time_to_first_chunk_seconds_count" in lines


def test_openapi_documents_exactly_the_routes_served(server: Running,
                                                     ours: dict[str, Any]) -> None:
    served = {}
    for route in falcon.inspect.inspect_routes(server.app):
        if "/app/ui/" in route.source_info:  # the web UI's pages are not part of the API
            continue
        methods = {m.method.lower() for m in route.methods
                   if m.method not in ("OPTIONS",) and not m.internal}
        # Without field converters: {run_id:int(min=0, …)} is {run_id}.
        served[re.sub(r":[a-z]+(\([^)]*\))?}", "}", route.path)] = methods
    documented = {path: {m for m in item if m != "parameters"}
                  for path, item in ours["paths"].items()}
    assert documented == served
    assert ours["openapi"].startswith("3.1")


def test_responses_match_our_openapi_schemas(server: Running, ours: dict[str, Any]) -> None:
    validate_ours(ours, "Completion", completion(server, prompt=PROMPT, max_tokens=3,
                                                 logprobs=1, echo=True))
    validate_ours(ours, "ChatCompletion", chat(server, max_tokens=3, logprobs=True,
                                               top_logprobs=2))
    _, _, events = sse_events(server.url, "/v1/chat/completions", {
        "model": server.model, "messages": CHAT, "max_tokens": 3, "stream": True,
        "stream_options": {"include_usage": True}})
    for event in events[:-1]:
        validate_ours(ours, "ChatCompletionChunk", event)
    _, _, events = sse_events(server.url, "/v1/completions", {
        "model": server.model, "prompt": PROMPT, "max_tokens": 3, "stream": True})
    for event in events[:-1]:
        validate_ours(ours, "Completion", event)


def test_sse_parser_reads_keepalive_comments() -> None:
    assert parse_sse(b": ping\n\ndata: {\"a\": 1}\n\ndata: [DONE]\n\n") == [{"a": 1}, "[DONE]"]


def test_stream_with_echo_logprobs_and_two_choices(server: Running) -> None:
    body = {"model": server.model, "prompt": PROMPT, "max_tokens": 4, "n": 2, "seed": 8,
            "echo": True, "logprobs": 1, "stream": True}
    _, _, events = sse_events(server.url, "/v1/completions", body)
    assert events[-1] == "[DONE]"
    whole = completion(server, **{k: v for k, v in body.items() if k != "stream"})
    for choice in whole["choices"]:
        chunks = [e["choices"][0] for e in events[:-1]
                  if e["choices"][0]["index"] == choice["index"]]
        assert "".join(c["text"] for c in chunks) == choice["text"]
        streamed = [token for c in chunks for token in c["logprobs"]["tokens"]]
        assert streamed == choice["logprobs"]["tokens"]
        assert chunks[-1]["finish_reason"] == choice["finish_reason"]


def test_json_mode_streams_valid_json(server: Running) -> None:
    body = {"model": server.model, "messages": CHAT, "max_tokens": 30, "seed": 4,
            "stream": True, "response_format": {"type": "json_object"}}
    _, _, events = sse_events(server.url, "/v1/chat/completions", body)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert isinstance(json.loads(text), dict)
    whole = chat(server, **{k: v for k, v in body.items() if k != "stream"})
    assert whole["choices"][0]["message"]["content"] == text
