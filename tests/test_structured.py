"""Structured output against the real server: ``response_format`` ``json_schema`` and
``json_object`` decoded under llguidance grammars, with raw HTTP, the openai client's
``parse``, Instructor and LangChain; and the constraint contract of the engine itself."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import instructor
import jsonschema
import numpy as np
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from app.engine.constrained import (
    MAX_SCHEMA_BYTES,
    MAX_STRING,
    bounded,
    json_object_grammar,
    json_schema_grammar,
)
from app.engine.types import SamplingParams
from app.errors import InvalidRequest
from tests.api_helpers import (
    Running,
    error_of,
    openai_client,
    post_json,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
    validate_openai,
)

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "kind": {"enum": ["user", "admin"]}},
    "required": ["name", "age", "tags", "kind"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Extract the person: Ann Lee, 42, admin, likes chess."}]


class Person(BaseModel):
    name: str
    age: int
    role: Literal["user", "admin"]
    hobbies: list[str] = Field(max_length=3)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai_client(server)


def schema_format(schema: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    return {"type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": strict}}


def chat(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/chat/completions",
                               {"model": server.model, "messages": ASK, **body})
    assert status == 200, result
    validate_openai("CreateChatCompletionResponse", result)
    return result


# -- raw HTTP -------------------------------------------------------------------------------

@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("temperature", [0, 0.7, 1.0])
def test_json_schema_replies_validate(server: Running, strict: bool,
                                      temperature: float) -> None:
    result = chat(server, response_format=schema_format(PERSON, strict), n=3, seed=11,
                  temperature=temperature, max_tokens=64)
    for choice in result["choices"]:
        assert choice["finish_reason"] == "stop"
        jsonschema.validate(json.loads(choice["message"]["content"]), PERSON)
    # Completion tokens are the reply's own tokens, counted by the real tokenizer.
    tokens = sum(len(server.engine.tokenizer.encode(c["message"]["content"]))
                 for c in result["choices"])
    assert result["usage"]["completion_tokens"] >= tokens - 3 * 2


def test_values_come_from_the_model_not_constants(server: Running) -> None:
    replies = {chat(server, response_format=schema_format(PERSON), seed=seed, temperature=1.0,
                    max_tokens=64)["choices"][0]["message"]["content"] for seed in range(6)}
    names = {json.loads(reply)["name"] for reply in replies}
    assert len(names) >= 3, replies


def test_same_seed_same_object(server: Running) -> None:
    body = {"response_format": schema_format(PERSON), "seed": 5, "temperature": 0.8,
            "max_tokens": 64}
    assert (chat(server, **body)["choices"][0]["message"]["content"]
            == chat(server, **body)["choices"][0]["message"]["content"])


def test_json_schema_streams_the_same_object(server: Running) -> None:
    body = {"model": server.model, "messages": ASK, "response_format": schema_format(PERSON),
            "seed": 3, "temperature": 0.7, "max_tokens": 64, "stream": True,
            "stream_options": {"include_usage": True}}
    status, _, events = sse_events(server.url, "/v1/chat/completions", body)
    assert status == 200 and events[-1] == "[DONE]"
    for event in events[:-1]:
        validate_openai("CreateChatCompletionStreamResponse", event)
    chunks = events[:-2]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    # More than one content delta: the reply streams token by token as it is decoded.
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) > 3
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    jsonschema.validate(json.loads(text), PERSON)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    whole = chat(server, **{k: v for k, v in body.items()
                            if k not in ("stream", "stream_options", "model", "messages")})
    assert whole["choices"][0]["message"]["content"] == text
    assert events[-2]["usage"] == whole["usage"]


def test_logprobs_of_a_structured_reply_are_the_models_own(server: Running) -> None:
    result = chat(server, response_format=schema_format(PERSON), seed=2, temperature=0.7,
                  max_tokens=64, logprobs=True, top_logprobs=3)
    content = result["choices"][0]["logprobs"]["content"]
    text = result["choices"][0]["message"]["content"]
    assert "".join(entry["token"] for entry in content) == text
    ids = server.engine.tokenizer.encode("")  # an empty prompt scores nothing
    assert len(ids) == 0
    for entry in content:
        assert entry["logprob"] <= 0
        # The alternatives are the model's whole distribution, not only what fit the schema.
        assert len(entry["top_logprobs"]) == 3


def test_budget_too_small_is_length(server: Running) -> None:
    result = chat(server, response_format=schema_format(PERSON), max_tokens=3, seed=1)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 3
    assert choice["message"]["content"].startswith("{")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_json_object_is_any_object_and_closes_in_a_small_budget(server: Running,
                                                                seed: int) -> None:
    result = chat(server, response_format={"type": "json_object"}, seed=seed, max_tokens=24,
                  temperature=1.0)
    assert isinstance(json.loads(result["choices"][0]["message"]["content"]), dict)
    assert result["choices"][0]["finish_reason"] == "stop"


def test_without_max_tokens_a_structured_reply_is_bounded(server: Running) -> None:
    result = chat(server, response_format=schema_format(PERSON), seed=9)
    assert result["usage"]["completion_tokens"] <= 256
    jsonschema.validate(json.loads(result["choices"][0]["message"]["content"]), PERSON)


HUGE = {"type": "object", "properties": {f"field_{i}": {"type": "string",
                                                        "description": "x" * 40}
                                         for i in range(2000)}}


@pytest.mark.parametrize("response_format, param", [
    ({"type": "json_schema"}, "response_format.json_schema"),
    ({"type": "json_schema", "json_schema": {"schema": PERSON}},
     "response_format.json_schema.name"),
    (schema_format({"type": "integer", "minimum": 5, "maximum": 1}),
     "response_format.json_schema.schema"),
    (schema_format({"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}),
     "response_format.json_schema.schema"),
    (schema_format({"type": "wibble"}), "response_format.json_schema.schema"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": "object"}},
     "response_format.json_schema.schema"),
    (schema_format(HUGE), "response_format.json_schema.schema"),
])
def test_bad_schemas_are_400_naming_response_format(server: Running,
                                                    response_format: dict[str, Any],
                                                    param: str) -> None:
    status, body = post_json(server.url, "/v1/chat/completions",
                             {"model": server.model, "messages": ASK,
                              "response_format": response_format})
    error = error_of(status, body)
    assert status == 400
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


# -- real clients ---------------------------------------------------------------------------

def test_openai_parse_with_a_pydantic_model(client: openai.OpenAI, server: Running) -> None:
    for seed in range(3):
        completion = client.chat.completions.parse(
            model=server.model, messages=ASK, response_format=Person, seed=seed,
            temperature=0.7, max_tokens=96)
        message = completion.choices[0].message
        assert isinstance(message.parsed, Person)
        assert message.parsed == Person.model_validate_json(message.content)


@pytest.mark.parametrize("mode", [instructor.Mode.JSON, instructor.Mode.JSON_SCHEMA,
                                  instructor.Mode.TOOLS])
def test_instructor_gets_schema_valid_objects(client: openai.OpenAI, server: Running,
                                              mode: instructor.Mode) -> None:
    patched = instructor.from_openai(client, mode=mode)
    person = patched.chat.completions.create(
        model=server.model, messages=ASK, response_model=Person, max_retries=0, seed=4,
        temperature=0.7, max_tokens=96)
    assert isinstance(person, Person)


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_langchain_with_structured_output(server: Running, method: str) -> None:
    model = ChatOpenAI(base_url=server.url + "/v1", api_key="unused", model=server.model,
                       temperature=0.7, max_tokens=96, seed=6, max_retries=0)
    structured = model.with_structured_output(Person, method=method)
    messages = ASK if method != "json_mode" else [
        {"role": "system", "content": "Reply in JSON."}, *ASK]
    if method == "json_mode":
        # json_mode promises any object: LangChain then validates it itself, so the schema
        # goes through json_schema for a typed result; here any object must come back.
        raw = model.with_structured_output(None, method="json_mode").invoke(messages)
        assert isinstance(raw, dict)
        return
    assert isinstance(structured.invoke(messages), Person)


# -- the engine's constraint contract -------------------------------------------------------

def test_constraint_masks_every_step_and_ends_the_generation() -> None:
    engine = shared_engine()
    grammar = json_schema_grammar(PERSON, engine.tokenizer, "schema")
    prompt = engine.tokenizer.encode("Ann Lee is 42.\n\n")
    completion = engine.complete(prompt, SamplingParams(max_tokens=64, temperature=1.0, seed=1),
                                 constraint=grammar.constraint(64))
    assert completion.finish_reason == "stop"
    jsonschema.validate(json.loads(completion.text), PERSON)
    # Replaying the chosen tokens through a fresh constraint: each was allowed when chosen.
    replay = grammar.constraint()
    allowed = np.zeros(engine.tokenizer.vocab_size, dtype=bool)
    for entry in completion.tokens:
        assert not replay.done()
        replay.mask(allowed)
        assert allowed[entry.token_id]
        replay.advance(entry.token_id)
    assert replay.done()


@pytest.mark.parametrize("budget", [12, 20, 30])
def test_a_budgeted_json_object_closes_whatever_is_sampled(budget: int) -> None:
    """Sampled freely, a reply still closes inside its budget: near the end, an opener
    (``,`` starting another key) after which the way to finish would not fit is refused."""
    engine = shared_engine()
    grammar = json_object_grammar(engine.tokenizer)
    prompt = engine.tokenizer.encode("Add two numbers.\n\n")
    cut_short = []
    for seed in range(40):
        params = SamplingParams(max_tokens=budget, temperature=1.0, seed=seed)
        completion = engine.complete(prompt, params, constraint=grammar.constraint(budget))
        if completion.finish_reason != "stop":
            cut_short.append((seed, completion.text))
            continue
        assert isinstance(json.loads(completion.text), dict)
    assert cut_short == []


def test_unconstrained_generation_is_unchanged_by_the_hook() -> None:
    engine = shared_engine()
    prompt = engine.tokenizer.encode("def total(")
    params = SamplingParams(max_tokens=24, temperature=0.9, seed=3)
    assert engine.complete(prompt, params).text == engine.complete(prompt, params).text


def test_bounded_keeps_the_schema_and_bounds_open_strings_and_arrays() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string", "maxLength": 5},
        "c": {"type": "array", "items": {"type": ["string", "null"]}},
        "d": {"type": "string", "minLength": 100}, "e": {"enum": [{"type": "string"}]}}}
    out = bounded(schema)
    props = out["properties"]
    assert props["a"]["maxLength"] == MAX_STRING
    assert props["b"] == {"type": "string", "maxLength": 5}
    assert props["c"]["maxItems"] == 8 and props["c"]["items"]["maxLength"] == MAX_STRING
    assert props["d"]["maxLength"] == 100
    assert props["e"] == {"enum": [{"type": "string"}]}  # data is never rewritten
    assert schema["properties"]["a"] == {"type": "string"}  # the caller's is left alone
    assert out["additionalProperties"] is False  # only the named properties
    assert "additionalProperties" not in schema
    combined = bounded({"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]})
    assert all("additionalProperties" not in part for part in combined["allOf"])


def test_schema_limits() -> None:
    tokenizer = shared_engine().tokenizer
    with pytest.raises(InvalidRequest, match="too large") as raised:
        json_schema_grammar({"description": "x" * MAX_SCHEMA_BYTES}, tokenizer, "p")
    assert raised.value.param == "p"
    json_object_grammar(tokenizer)  # compiles


def test_mask_overhead_keeps_a_64_token_reply_fast() -> None:
    """A schema-constrained 64-token reply costs little more than an unconstrained one."""
    engine = shared_engine()
    grammar = json_schema_grammar(PERSON, engine.tokenizer, "schema")
    prompt = engine.tokenizer.encode("Ann Lee is 42.\n\n")
    params = SamplingParams(max_tokens=64, temperature=1.0, seed=1)

    def per_token(constrained: bool) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            result = engine.complete(prompt, params,
                                     constraint=grammar.constraint() if constrained else None)
            best = min(best, (time.perf_counter() - started) / max(1, len(result.tokens)))
        return best

    # Generous bounds for a shared 2-core machine; bench figures are in the report.
    assert per_token(True) < 2e-3
    assert per_token(True) - per_token(False) < 1e-3
