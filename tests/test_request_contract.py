"""The request contract (app/api/openai/contract.py and the models beside it, the dialects'
in app/api/dialects/contract_*.py) is the one declaration of the request bodies:
``/openapi.json`` publishes it as valid OpenAPI 3.1, the real server enforces every limit
it declares with a 400 naming the field (in the dialect's own error shape), and the CLI
refuses the same values in one line.

The out-of-range values are made from the contract's own schema, so a limit added to a
field is tested here without a new line of test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from app.api import ApiSettings
from app.api.dialects.contract_llamacpp import MAX_EXTRA_CHUNKS, MAX_N_PROBS
from app.api.dialects.errors import is_llamacpp, is_ollama
from app.api.dialects.openapi import REQUESTS as DIALECT_REQUESTS
from app.api.ingest_contract import MAX_INGEST_WORKERS
from app.api.jobs.contract import MAX_CALL_REQUESTS
from app.api.openai import contract
from app.api.openai.contract_aux import MAX_DIMENSIONS, MAX_INPUTS
from app.api.openai.openapi_doc import REQUEST_BODIES, REQUESTS
from app.cli.generate_cmd import CHAT_FLAGS, COMPLETE_FLAGS
from app.cli.sampling_flags import Flags, flag
from app.engine.limits import MAX_N, MAX_STOP_SEQUENCES, MAX_TOP_LOGPROBS
from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    post_json,
    shared_engine,
    shared_hypercube,
    start_server,
)

MODEL = "hypercube"
COMPLETION = {"model": MODEL, "prompt": "def", "max_tokens": 1}
# Each route that reads a body: its model, and a body it accepts (made to break one limit).
BODIES: dict[str, tuple[type[contract.Body], dict[str, Any]]] = {
    "/v1/completions": (contract.CompletionBody, COMPLETION),
    "/v1/chat/completions": (contract.ChatBody, {
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}),
    "/v1/embeddings": (REQUEST_BODIES["EmbeddingRequest"], {"model": MODEL, "input": "x"}),
    "/tokenize": (REQUEST_BODIES["TokenizeRequest"], {"prompt": "x"}),
    "/detokenize": (REQUEST_BODIES["DetokenizeRequest"], {"tokens": [1]}),
    "/v1/completions/batch": (REQUEST_BODIES["CompletionBatchRequest"],
                              {"requests": [COMPLETION]}),
    "/v1/batches": (REQUEST_BODIES["BatchRequest"], {
        "input_file_id": "file-x", "endpoint": "/v1/completions", "completion_window": "24h"}),
    "/v1/ingest": (REQUEST_BODIES["IngestRequest"], {"paths": ["."]}),  # see ingest_root
    "/api/generate": (DIALECT_REQUESTS["OllamaGenerateRequest"], {
        "model": MODEL, "prompt": "x", "stream": False, "options": {"num_predict": 1}}),
    "/api/chat": (DIALECT_REQUESTS["OllamaChatRequest"], {
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False,
        "options": {"num_predict": 1}}),
    "/api/embed": (DIALECT_REQUESTS["OllamaEmbedRequest"], {"model": MODEL, "input": "x"}),
    "/api/embeddings": (DIALECT_REQUESTS["OllamaEmbeddingsRequest"],
                        {"model": MODEL, "prompt": "x"}),
    "/api/show": (DIALECT_REQUESTS["OllamaModelRequest"], {"model": MODEL}),
    "/completion": (DIALECT_REQUESTS["LlamaCompletionRequest"],
                    {"prompt": "x", "n_predict": 1}),
    "/infill": (DIALECT_REQUESTS["LlamaInfillRequest"],
                {"input_prefix": "def f():\n", "n_predict": 1}),
    "/v1/responses": (DIALECT_REQUESTS["ResponsesRequest"],
                      {"model": MODEL, "input": "x", "max_output_tokens": 1}),
}


def test_every_request_model_has_a_route_here() -> None:
    assert {model for model, _ in BODIES.values()} == set(REQUEST_BODIES.values())


@pytest.fixture(scope="module")
def ingest_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest-root").resolve()


@pytest.fixture(scope="module")
def server(ingest_root: Path) -> Iterator[Running]:
    # Ingestion allowed from one empty folder: /v1/ingest reads its body, then refuses.
    running = start_server(shared_hypercube(), ApiSettings(ingest_roots=(ingest_root,)),
                           engine=shared_engine())
    yield running
    running.stop()


# -- values that break a declared limit, made from the schema ---------------------------------

def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else schema


def _sample(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small value the schema accepts (an item to repeat past a maxItems)."""
    schema = _resolve(schema, defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: _sample(schema["properties"][name], defs)
                for name in schema.get("required", [])}
    return {"integer": 1, "number": 1.0, "boolean": False, "array": []}.get(kind, "x")


def _breaking(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(the limit, a value just past it) for each limit of one field's schema."""
    for branch in schema.get("anyOf", [schema]):
        branch = _resolve(branch, defs)
        step = 1 if branch.get("type") == "integer" else 0.5
        if "minimum" in branch:
            yield "minimum", branch["minimum"] - step
        if "maximum" in branch:
            yield "maximum", branch["maximum"] + step
        if "enum" in branch and branch.get("type") == "string":
            yield "enum", "none-of-these"
        if branch.get("type") == "array" or "maxItems" in branch or "minItems" in branch:
            item = branch.get("items", {"type": "string"})
            if "maxItems" in branch:
                yield "maxItems", [_sample(item, defs)] * (branch["maxItems"] + 1)
            if branch.get("minItems"):
                yield "minItems", []
            item = _resolve(item, defs)
            if "maxLength" in item:
                yield "items.maxLength", ["x" * (item["maxLength"] + 1)]
            if item.get("minLength"):
                yield "items.minLength", [""]
        for pattern, values in branch.get("patternProperties", {}).items():
            for limit, value in _breaking(values, defs):
                yield f"values.{limit}", {"1": value}
            assert pattern == r"^-?[0-9]+$"  # token ids: a name is not one
            yield "keys.pattern", {"name": 0}


def limit_cases(model: type[contract.Body]) -> list[tuple[str, str, Any]]:
    """(field, limit, value) for every limit the model declares on its fields."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return [(name, limit, value) for name in model.model_fields
            for limit, value in _breaking(schema["properties"][name], defs)]


CASES = [(path, *case) for path, (model, _) in BODIES.items() for case in limit_cases(model)]


def test_the_cases_cover_the_limits_we_know() -> None:
    # The generator reads the schema: if it stopped seeing limits, this says so.
    found = {(path, field, limit) for path, field, limit, _ in CASES}
    for expected in [("/v1/completions", "n", "maximum"), ("/v1/completions", "stop", "maxItems"),
                     ("/v1/embeddings", "dimensions", "maximum"),
                     ("/v1/embeddings", "input", "maxItems"),
                     ("/v1/embeddings", "encoding_format", "enum"),
                     ("/tokenize", "messages", "minItems"),
                     ("/v1/completions/batch", "requests", "maxItems"),
                     ("/v1/batches", "endpoint", "enum"),
                     ("/v1/ingest", "paths", "items.minLength"),
                     ("/v1/ingest", "workers", "maximum"),
                     ("/api/generate", "top_logprobs", "maximum"),
                     ("/api/chat", "tools", "maxItems"),
                     ("/api/embed", "dimensions", "minimum"),
                     ("/completion", "n_probs", "maximum"), ("/completion", "n_cmpl", "minimum"),
                     ("/completion", "t_max_predict_ms", "minimum"),
                     ("/infill", "input_extra", "maxItems"),
                     ("/v1/responses", "max_output_tokens", "minimum"),
                     ("/v1/completions", "logit_bias", "values.maximum"),
                     ("/v1/completions", "dry_sequence_breakers", "items.maxLength"),
                     ("/v1/completions", "scope", "enum"),
                     ("/v1/completions", "best_of", "maximum"),
                     ("/v1/chat/completions", "top_logprobs", "maximum"),
                     ("/v1/chat/completions", "messages", "minItems"),
                     ("/v1/chat/completions", "tools", "maxItems")]:
        assert expected in found
    values = {(path, field, limit): value for path, field, limit, value in CASES}
    assert values[("/v1/completions", "n", "maximum")] == MAX_N + 1
    assert len(values[("/v1/completions", "stop", "maxItems")]) == MAX_STOP_SEQUENCES + 1
    assert values[("/v1/chat/completions", "top_logprobs", "maximum")] == MAX_TOP_LOGPROBS + 1
    assert values[("/v1/embeddings", "dimensions", "maximum")] == MAX_DIMENSIONS + 1
    assert len(values[("/v1/embeddings", "input", "maxItems")]) == MAX_INPUTS + 1
    assert len(values[("/v1/completions/batch", "requests", "maxItems")]) == MAX_CALL_REQUESTS + 1
    assert values[("/v1/ingest", "workers", "maximum")] == MAX_INGEST_WORKERS + 1
    assert values[("/v1/ingest", "workers", "maximum")] == (os.cpu_count() or 1) + 1
    assert values[("/completion", "n_probs", "maximum")] == MAX_N_PROBS + 1
    assert len(values[("/infill", "input_extra", "maxItems")]) == MAX_EXTRA_CHUNKS + 1


def _problem(path: str, status: int, result: Any) -> tuple[str | None, str]:
    """The error's ``param`` (OpenAI's shape only) and message, in the route's dialect."""
    if is_ollama(path):
        assert set(result) == {"error"} and isinstance(result["error"], str), result
        return None, result["error"]
    if is_llamacpp(path):
        error = result["error"]
        assert (error["code"], error["type"]) == (status, "invalid_request_error"), result
        return None, error["message"]
    error = error_of(status, result)
    assert error["type"] == "invalid_request_error"
    return error["param"], error["message"]


@pytest.mark.parametrize("path, field, limit, value", CASES,
                         ids=[f"{p.rsplit('/', 1)[-1]}-{f}-{lim}" for p, f, lim, _ in CASES])
def test_every_declared_limit_is_a_400_naming_the_field(server: Running, path: str,
                                                        field: str, limit: str,
                                                        value: Any) -> None:
    _, base = BODIES[path]
    status, result = post_json(server.url, path, {**base, field: value})
    assert status == 400, result
    param, message = _problem(path, status, result)
    assert param in (field, None), result
    assert message.startswith(f"'{field}"), result


@pytest.mark.parametrize("path", list(BODIES))
def test_the_bodies_the_limit_cases_start_from_are_accepted(server: Running,
                                                            ingest_root: Path,
                                                            path: str) -> None:
    # So a 400 above is the broken limit's, not the base body's.
    model, base = BODIES[path]
    if path == "/v1/ingest":
        base = {"paths": [str(ingest_root)]}
    contract.read(model, base)
    status, result = post_json(server.url, path, base)
    expected = {"/v1/batches": 404}.get(path, 202 if path == "/v1/ingest" else 200)
    assert status == expected, result


def test_unknown_fields_and_nulls_are_accepted(server: Running) -> None:
    # What real clients send: OpenAI's newer fields, their own, and null for unset.
    for path in ("/v1/completions", "/v1/chat/completions"):
        _, base = BODIES[path]
        status, result = post_json(server.url, path, {
            **base, "user": "ann", "metadata": {"k": "v"}, "store": False,
            "temperature": None, "stop": None, "n": 1.0})
        assert status == 200, result


# -- /openapi.json ----------------------------------------------------------------------------

def test_openapi_json_is_a_valid_openapi_31_document(server: Running) -> None:
    status, document = get_json(server.url, "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_openapi_request_schemas_are_the_contract(server: Running) -> None:
    _, document = get_json(server.url, "/openapi.json")
    published = document["components"]["schemas"]
    assert contract.schemas(REQUEST_BODIES) == REQUESTS
    for name, schema in REQUESTS.items():
        assert published[name] == schema
    stop = published["CompletionRequest"]["properties"]["stop"]["anyOf"]
    assert {"items": {"type": "string"}, "maxItems": MAX_STOP_SEQUENCES,
            "type": "array"} in stop
    # Every $ref of a request body resolves within the document, and every keyword is
    # JSON Schema's (pydantic writes its own "ge"/"le" when a limit sits in the wrong place).
    refs: list[str] = []
    foreign = {"ge", "le", "gt", "lt", "max_length", "min_length"}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            assert not foreign & {k for k, v in node.items() if not isinstance(v, dict)}, node
            refs.extend([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
    collect([published[n] for n in REQUEST_BODIES])
    assert refs and all(r.rsplit("/", 1)[-1] in published for r in refs)


# -- the CLI ----------------------------------------------------------------------------------

def _flag_cases(command: str, flags: Flags, body: type[contract.Body]) -> list[tuple[Any, ...]]:
    return [(command, field, value) for field, _, value in limit_cases(body)
            if field in flags.names]


FLAG_CASES = [*_flag_cases("complete", COMPLETE_FLAGS, contract.CompletionBody),
              *_flag_cases("chat", CHAT_FLAGS, contract.ChatBody)]


def _argv(field: str, value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [arg for v in values for arg in (flag(field), str(v))]


def test_the_cli_flags_cover_the_limits() -> None:
    assert {(c, f) for c, f, _ in FLAG_CASES} >= {
        ("complete", "temperature"), ("complete", "top_p"), ("complete", "stop"),
        ("complete", "logprobs"), ("complete", "max_tokens"), ("chat", "top_k")}


@pytest.mark.parametrize("command, field, value", FLAG_CASES,
                         ids=[f"{c}-{f}" for c, f, _ in FLAG_CASES])
def test_the_cli_refuses_what_the_api_refuses(cli: Callable[..., tuple[int, str, str]],
                                              command: str, field: str, value: Any) -> None:
    prompt = ["def "] if command == "complete" else []
    code, out, err = cli(command, *prompt, *_argv(field, value))
    assert code != 0 and out == "", err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"hypercube: error: {flag(field)} "), err


# -- the structured fields: their shapes are the contract's too -------------------------------

def _chat(**fields: Any) -> dict[str, Any]:
    return {**BODIES["/v1/chat/completions"][1], **fields}


def _user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


SHAPES = [
    ("/v1/completions", {**BODIES["/v1/completions"][1], "prompt": 5}, "prompt"),
    ("/v1/completions", {**BODIES["/v1/completions"][1], "prompt": [1, True]}, "prompt[0]"),
    ("/v1/completions", {**BODIES["/v1/completions"][1], "prompt": ["a", [1, "b"]]},
     "prompt[1]"),
    ("/v1/chat/completions", _chat(messages=[{"role": "robot"}]), "messages[0].role"),
    ("/v1/chat/completions", _chat(messages=_user([{"type": "input_image"}])),
     "messages[0].content[0].type"),
    ("/v1/chat/completions", _chat(messages=_user([{"type": "refusal", "text": "x"}])),
     "messages[0].content[0].refusal"),
    ("/v1/chat/completions", _chat(messages=_user([5])), "messages[0].content[0]"),
    ("/v1/chat/completions", _chat(messages=[{"role": "tool", "content": "x",
                                              "tool_call_id": 3}]),
     "messages[0].tool_call_id"),
    ("/v1/chat/completions", _chat(messages=[{"role": "assistant", "tool_calls": [
        {"function": {"name": "f", "arguments": {}}}]}]),
     "messages[0].tool_calls[0].function.arguments"),
    ("/v1/chat/completions", _chat(tools=[{"function": {"name": "f", "parameters": "x"}}]),
     "tools[0].function.parameters"),
    ("/v1/chat/completions", _chat(tools=[{"function": {"name": "f", "strict": "yes"}}]),
     "tools[0].function.strict"),
    ("/v1/chat/completions", _chat(tool_choice={"type": "function"}),
     "tool_choice.function"),
    ("/v1/chat/completions", _chat(tool_choice={"type": "custom", "function": {"name": "f"}}),
     "tool_choice.type"),
    ("/v1/chat/completions", _chat(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "strict": 1}}), "response_format.json_schema.strict"),
    ("/v1/embeddings", {"model": MODEL, "input": [[]]}, "input[0]"),
    ("/tokenize", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
]


@pytest.mark.parametrize("path, body, param", SHAPES,
                         ids=[f"{p.rsplit('/', 1)[-1]}-{param}" for p, _, param in SHAPES])
def test_a_malformed_structured_field_is_a_400_naming_its_path(
        server: Running, path: str, body: dict[str, Any], param: str) -> None:
    status, result = post_json(server.url, path, body)
    error = error_of(status, result)
    assert status == 400, result
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, result
    assert error["message"].startswith(f"'{param}' ") or param in error["message"], result


def test_the_structured_fields_are_published_from_the_models(server: Running) -> None:
    _, document = get_json(server.url, "/openapi.json")
    published = document["components"]["schemas"]
    part = published["ContentPart"]["properties"]["type"]
    assert part["enum"] == ["text", "input_text", "refusal"]
    assert published["Function"]["properties"]["name"]["pattern"] == r"^[A-Za-z0-9_-]{1,64}$"
    tokenize = published["TokenizeRequest"]["properties"]["messages"]["anyOf"][0]
    chat = published["ChatCompletionRequest"]["properties"]["messages"]
    assert tokenize["items"] == chat["items"] == {"$ref": "#/components/schemas/Message"}
    batch = published["CompletionBatchRequest"]["properties"]["requests"]
    assert batch["items"] == {"$ref": "#/components/schemas/CompletionRequest"}
