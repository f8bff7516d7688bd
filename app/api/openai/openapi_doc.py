"""``GET /openapi.json``: this server's API as an OpenAPI 3.1 document.

The OpenAI-compatible endpoints follow OpenAI's own specification; the schemas here describe
what this server really sends (tests validate live responses against them, and check that
every route of the app is documented and nothing else is).
"""

from __future__ import annotations

from typing import Any

import falcon

from app import __version__
from app.api.dialects.openapi import PATHS as DIALECT_PATHS
from app.api.dialects.openapi import REQUESTS as DIALECT_REQUESTS
from app.api.dialects.openapi import SCHEMAS as DIALECT_SCHEMAS
from app.api.http.sse import event_schema
from app.api.ingest_contract import IngestBody
from app.api.jobs.contract import BatchBody, CompletionBatchBody
from app.api.native.code import QUERIES
from app.api.native.code import __doc__ as CODE_DOC
from app.api.native.hypercube import DEFAULT_NEIGHBORS, DEFAULT_POINTS, MAX_NEIGHBORS, MAX_POINTS
from app.api.openai import contract
from app.api.openai.contract_aux import DetokenizeBody, EmbeddingBody, TokenizeBody
from app.api.openai.contract_types import Body
from app.api.openai.grounded_reply import __doc__ as GROUNDED_REPLY_DOC
from app.chat_template import __doc__ as CHAT_TEMPLATE_DOC
from app.grounded.intent import __doc__ as GROUNDED_CHAT_DOC

_NULLABLE_STRING = {"type": ["string", "null"]}
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required}


_USAGE = _obj({"prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
               "total_tokens": {"type": "integer"}})
_COMPLETION_LOGPROBS = {"type": ["object", "null"], "properties": {
    "tokens": {"type": "array", "items": {"type": "string"}},
    "token_logprobs": {"type": "array", "items": {"type": ["number", "null"]}},
    "top_logprobs": {"type": "array", "items": {
        "type": ["object", "null"], "additionalProperties": {"type": "number"}}},
    "text_offset": {"type": "array", "items": {"type": "integer"}},
}}
_TOKEN_LOGPROB = _obj({"token": {"type": "string"}, "logprob": {"type": "number"},
                       "bytes": {"type": "array", "items": {"type": "integer"}}})
_CHAT_LOGPROBS = {"type": ["object", "null"], "properties": {
    "content": {"type": "array", "items": {
        **_TOKEN_LOGPROB, "properties": {**_TOKEN_LOGPROB["properties"], "top_logprobs": {
            "type": "array", "items": _TOKEN_LOGPROB}},
        "required": ["token", "logprob", "bytes", "top_logprobs"]}},
    "refusal": {"type": "null"}}}
_HEAD = {"id": {"type": "string"}, "created": {"type": "integer"}, "model": {"type": "string"},
         "system_fingerprint": {"type": "string"}}
_FINISH = {"type": "string", "enum": ["stop", "length"]}
_TOOL_CALL = _obj({"id": {"type": "string"}, "type": {"const": "function"},
                   "function": _obj({"name": {"type": "string"},
                                     "arguments": {"type": "string"}})})
_TOOL_CALL_DELTA = _obj({"index": {"type": "integer"}, "id": {"type": "string"},
                         "type": {"const": "function"},
                         "function": _obj({"name": {"type": "string"},
                                           "arguments": {"type": "string"}}, [])}, ["index"])
SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"message": {"type": "string"}, "type": {"type": "string"},
                                  "param": _NULLABLE_STRING, "code": _NULLABLE_STRING})}),
    "Model": _obj({
        "id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"},
        "owned_by": {"type": "string"}, "context_length": {"type": "integer"},
        "vocab_size": {"type": "integer"},
        "corpus": _obj({"bytes": {"type": "integer"}, "tokens": {"type": "integer"},
                        "documents": {"type": "integer"}})}),
    "ModelList": _obj({"object": {"const": "list"},
                       "data": {"type": "array", "items": _ref("Model")}}),
    "Completion": _obj({
        **_HEAD, "object": {"const": "text_completion"},
        "choices": {"type": "array", "items": _obj({
            "text": {"type": "string"}, "index": {"type": "integer"},
            "logprobs": _COMPLETION_LOGPROBS,
            "finish_reason": {**_FINISH, "type": ["string", "null"],
                              "enum": ["stop", "length", None]}})},
        "usage": _USAGE}, ["id", "object", "created", "model", "choices"]),
    "ChatCompletion": _obj({
        **_HEAD, "object": {"const": "chat.completion"},
        "choices": {"type": "array", "items": _obj({
            "index": {"type": "integer"},
            "message": _obj({"role": {"const": "assistant"},
                             "content": {"type": ["string", "null"]},
                             "refusal": {"type": "null"},
                             "annotations": {"type": "array", "maxItems": 0},
                             "sources": {"type": "array", "items": _ref("ChatSource")},
                             "tool_calls": {"type": "array", "items": _TOOL_CALL,
                                            "minItems": 1, "maxItems": 1}},
                            ["role", "content", "refusal", "annotations"]),
            "logprobs": _CHAT_LOGPROBS,
            "finish_reason": {**_FINISH, "enum": ["stop", "length", "tool_calls"]}})},
        "usage": _USAGE}),
    # What a grounded answer cites (app/grounded/answer.py Source;
    # app/api/openai/grounded_reply.py).
    "ChatSource": _obj({
        "index": {"type": "integer", "minimum": 1}, "path": {"type": "string"},
        "display_path": {"type": "string"}, "line": {"type": "integer", "minimum": 1},
        "end_line": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["definition", "reference", "call", "passage", "doc", "similar"]},
        "name": _NULLABLE_STRING, "language": {"type": "string"}}),
    "ChatCompletionChunk": _obj({
        **_HEAD, "object": {"const": "chat.completion.chunk"},
        "choices": {"type": "array", "items": _obj({
            "index": {"type": "integer"},
            "delta": _obj({"role": {"const": "assistant"},
                           "content": {"type": ["string", "null"]},
                           "sources": {"type": "array", "items": _ref("ChatSource")},
                           "tool_calls": {"type": "array", "items": _TOOL_CALL_DELTA}}, []),
            "logprobs": _CHAT_LOGPROBS,
            "finish_reason": {"type": ["string", "null"],
                              "enum": ["stop", "length", "tool_calls", None]}})},
        "usage": {"anyOf": [_USAGE, {"type": "null"}]}},
        ["id", "object", "created", "model", "choices"]),
    "EmbeddingList": _obj({
        "object": {"const": "list"}, "model": {"type": "string"},
        "data": {"type": "array", "items": _obj({
            "object": {"const": "embedding"}, "index": {"type": "integer"},
            "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}},
                                    {"type": "string", "contentEncoding": "base64"}]}})},
        "usage": _obj({"prompt_tokens": {"type": "integer"},
                       "total_tokens": {"type": "integer"}})}),
    "Tokenized": _obj({"tokens": {"type": "array", "items": {"type": "integer"}},
                       "count": {"type": "integer"}, "max_model_len": {"type": "integer"},
                       "pieces": {"type": "array", "items": {"type": "string"}}},
                      ["tokens", "count", "max_model_len"]),
    "Detokenized": _obj({"prompt": {"type": "string"},
                         "content": {"type": "string", "description": "llama.cpp's name"}}),
    "File": _obj({"id": {"type": "string"}, "object": {"const": "file"},
                  "bytes": {"type": "integer"}, "created_at": {"type": "integer"},
                  "expires_at": {"type": "integer"}, "filename": {"type": "string"},
                  "purpose": {"type": "string"}, "status": {"const": "processed"}},
                 ["id", "object", "bytes", "created_at", "filename", "purpose", "status"]),
    "FileList": _obj({"object": {"const": "list"},
                      "data": {"type": "array", "items": _ref("File")},
                      "first_id": _NULLABLE_STRING, "last_id": _NULLABLE_STRING,
                      "has_more": {"type": "boolean"}}),
    "FileDeleted": _obj({"id": {"type": "string"}, "object": {"const": "file"},
                         "deleted": {"const": True}}),
    "Batch": _obj({
        "id": {"type": "string"}, "object": {"const": "batch"},
        "endpoint": {"type": "string"}, "input_file_id": {"type": "string"},
        "completion_window": {"const": "24h"},
        "status": {"enum": ["validating", "failed", "in_progress", "finalizing", "completed",
                            "expired", "cancelling", "cancelled"]},
        "created_at": {"type": "integer"}, "output_file_id": {"type": "string"},
        "error_file_id": {"type": "string"},
        "request_counts": _obj({"total": {"type": "integer"},
                                "completed": {"type": "integer"},
                                "failed": {"type": "integer"}}),
        "errors": _obj({"object": {"const": "list"}, "data": {"type": "array"}}),
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}}},
        ["id", "object", "endpoint", "input_file_id", "completion_window", "status",
         "created_at", "request_counts"]),
    "BatchList": _obj({"object": {"const": "list"},
                       "data": {"type": "array", "items": _ref("Batch")},
                       "first_id": {"type": "string"}, "last_id": {"type": "string"},
                       "has_more": {"type": "boolean"}}, ["object", "data", "has_more"]),
    "Health": _obj({"status": {"enum": ["ok", "degraded", "loading", "error"]},
                    "model_loaded": {"type": "boolean"},
                    "faults": {"type": "array", "items": _obj(
                        {"component": {"type": "string"}, "reason": {"type": "string"},
                         "since": {"type": "number"},
                         "retry_at": {"type": ["number", "null"]}})},
                    "workers": {"type": "object"},
                    "database": _obj({"reachable": {"type": "boolean"},
                                      "path": {"type": "string"}}),
                    "memory": {"type": "object"}, "uptime_seconds": {"type": "number"},
                    "version": {"type": "string"}}),
    "IngestRun": _obj({
        "id": {"type": "integer"}, "object": {"const": "ingest.run"},
        "status": {"enum": ["running", "done", "failed", "cancelled", "interrupted"]},
        "roots": {"type": "array", "items": {"type": "string"}},
        "started_at": {"type": "number"}, "finished_at": {"type": ["number", "null"]},
        "files": _obj({k: {"type": "integer"} for k in
                       ("added", "changed", "unchanged", "removed", "skipped")}),
        "bytes_ingested": {"type": "integer"},
        "progress": _obj({"phase": {"type": "string"},
                          **{k: {"type": "integer"} for k in
                             ("files_done", "files_total", "bytes_done", "bytes_total")},
                          "current": {"type": "string"}}),
        "model_reloaded": {"type": "boolean"}},
        ["id", "object", "status", "roots", "started_at", "finished_at", "files",
         "bytes_ingested"]),
    "IngestRunList": _obj({"object": {"const": "list"},
                           "data": {"type": "array", "items": _ref("IngestRun")}}),
    "CodeList": _obj({"object": {"const": "list"},
                      "data": {"type": "array", "items": {"type": "object"}}}),
    "CodeFile": _obj({"path": {"type": "string"}, "language": {"type": "string"},
                      "text": {"type": "string"}, "lines": {"type": "integer"}}),
    "HypercubeStats": _obj({
        "object": {"const": "hypercube.stats"}, "path": {"type": "string"},
        "schema_version": {"type": "integer"},
        "counts": _obj({k: {"type": "integer"} for k in (
            "documents", "tokens", "document_bytes", "atoms", "compositions", "relations",
            "vocabulary")}),
        "languages": {"type": "object", "additionalProperties": {"type": "integer"}},
        "sizes": _obj({k: {"type": "integer"} for k in ("file_bytes", "free_bytes",
                                                        "wal_bytes")}),
        "runs": {"type": "integer"},
        "last_run": {"type": ["object", "null"]}}),
    "HypercubePoints": _obj({"object": {"const": "list"}, "data": {"type": "array", "items": _obj({
        "id": {"type": "string", "description": "U+XXXX for an atom, else the composition id "
                                                "(63-bit, hence a string)"},
        "kind": {"enum": ["atom", "token", "identifier"]},
        "group": {"type": "string", "description": "an atom's Unicode category group, an "
                                                   "identifier's definition kind, or token"},
        "language": _NULLABLE_STRING, "label": {"type": "string"},
        **{axis: {"type": "number"} for axis in "xyzw"}})}}),
}

# The request bodies, each declared once as a model (app/api/openai/contract.py and the
# modules beside it, app/api/dialects/openapi.py), published under these names.
REQUEST_BODIES: dict[str, type[Body]] = {
    **contract.REQUESTS,
    "EmbeddingRequest": EmbeddingBody, "TokenizeRequest": TokenizeBody,
    "DetokenizeRequest": DetokenizeBody, "CompletionBatchRequest": CompletionBatchBody,
    "BatchRequest": BatchBody, "IngestRequest": IngestBody,
    **DIALECT_REQUESTS,
}
REQUESTS: dict[str, Any] = contract.schemas(REQUEST_BODIES)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, response: str | dict[str, Any], *, request: str | None = None,
        stream: str | None = None, status: str = "200",
        description: str | None = None) -> dict[str, Any]:
    schema = _ref(response) if isinstance(response, str) else response
    ok = {"description": summary, **_json(schema)}
    if stream is not None:
        ok["content"]["text/event-stream"] = {"schema": event_schema(
            f"server-sent events, each `data: {stream}`, then `data: [DONE]`")}
    op: dict[str, Any] = {"summary": summary, "responses": {
        status: ok, "default": {"description": "an OpenAI error object", **_json(
            _ref("Error"))}}}
    if request is not None:
        op["requestBody"] = {"required": True, **_json(_ref(request))}
    if description:
        op["description"] = description
    return op


_PARAM = {"in": "path", "required": True, "schema": {"type": "string"}}
# Code queries answer with a list, except these.
_CODE_RESPONSES: dict[str, Any] = {"similar": {"type": "object"}, "analogy": {"type": "object"},
                                   "file": _ref("CodeFile")}


def _path(name: str, type_: str = "string") -> list[dict[str, Any]]:
    return [{**_PARAM, "name": name, "schema": {"type": type_}}]


PATHS: dict[str, Any] = {
    "/health": {"get": {**_op("Readiness, database, model and memory", "Health"),
                        "security": []}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
        "description": "Prometheus text exposition",
        "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/openapi.json": {"get": _op("This document", {"type": "object"})},
    "/v1/usage": {"get": _op(
        "Requests and tokens per API key id since the server started", {
            "type": "object", "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {
                "type": "object",
                "required": ["object", "key", "requests", "prompt_tokens",
                             "completion_tokens", "total_tokens"],
                "properties": {"object": {"const": "usage"}, "key": {"type": "string"},
                               **{n: {"type": "integer"} for n in (
                                   "requests", "prompt_tokens", "completion_tokens",
                                   "total_tokens")}}}}}},
        description="`key` is the key's id (`key_…`, never the key), `anonymous` without "
                    "keys, `batch` for batches; needs the admin key when keys are set.")},
    "/v1/models": {"get": _op("The models this server offers", "ModelList")},
    "/v1/models/{model}": {"get": _op("One model", "Model"), "parameters": _path("model")},
    "/v1/completions": {"post": _op(
        "Text completion", "Completion", request="CompletionRequest",
        stream="<Completion without usage> ... <usage chunk with empty choices>",
        description="`suffix` fills in the middle (the middle stops where the suffix takes "
                    "over and never repeats it); `echo` with `logprobs` and "
                    "`max_tokens: 0` returns the prompt's own log-probabilities. The "
                    "prompt's last word is re-written by the model (token healing): the "
                    "text is what follows the prompt, and the first token's `text_offset` "
                    "may point inside the prompt. `usage.completion_tokens` counts the "
                    "returned choices' tokens (and every `best_of` candidate's).")},
    "/v1/engines/{model}/completions": {"post": _op(
        "Text completion, the model named in the path", "Completion",
        request="CompletionRequest", stream="<Completion>"), "parameters": _path("model")},
    "/v1/completions/batch": {"post": _op(
        "Many completion requests in one call", {"type": "object", "properties": {
            "object": {"const": "list"}, "data": {"type": "array", "items": {
                "oneOf": [_ref("Completion"), _ref("Error")]}}}},
        request="CompletionBatchRequest")},
    "/v1/chat/completions": {"post": _op(
        "Chat completion", "ChatCompletion", request="ChatCompletionRequest",
        stream="<ChatCompletionChunk>",
        description=f"{GROUNDED_CHAT_DOC}\n\n{GROUNDED_REPLY_DOC}\n\n{CHAT_TEMPLATE_DOC}")},
    "/v1/embeddings": {"post": _op("Embeddings from the hypercube's statistics",
                                   "EmbeddingList", request="EmbeddingRequest")},
    # anyOf, not oneOf: an empty tokenization ({"tokens": []}) has both shapes.
    "/tokenize": {"post": _op("Text or a chat to token ids (llama.cpp's shape for content)",
                              {"anyOf": [_ref("Tokenized"), _ref("LlamaTokenized")]},
                              request="TokenizeRequest")},
    "/detokenize": {"post": _op("Token ids to text", "Detokenized",
                                request="DetokenizeRequest")},
    "/v1/files": {
        "post": {**_op("Upload a file", "File"), "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file", "purpose"],
                                               "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                "purpose": {"enum": ["assistants", "batch", "fine-tune", "vision",
                                     "user_data"]}}}}}}},
        "get": _op("List files", "FileList")},
    "/v1/files/{file_id}": {"get": _op("One file", "File"),
                            "delete": _op("Delete a file", "FileDeleted"),
                            "parameters": _path("file_id")},
    "/v1/files/{file_id}/content": {"get": {"summary": "A file's content", "responses": {
        "200": {"description": "the bytes uploaded or produced",
                "content": {"application/octet-stream": {"schema": {"type": "string"}}}}}},
        "parameters": _path("file_id")},
    "/v1/batches": {"post": _op("Create a batch", "Batch", request="BatchRequest"),
                    "get": _op("List batches", "BatchList")},
    "/v1/batches/{batch_id}": {"get": _op("One batch", "Batch"),
                               "parameters": _path("batch_id")},
    "/v1/batches/{batch_id}/cancel": {"post": _op("Cancel a batch", "Batch"),
                                      "parameters": _path("batch_id")},
    "/v1/ingest": {"post": _op("Start an ingest run over server-local paths", "IngestRun",
                               request="IngestRequest", status="202"),
                   "get": _op("Recent ingest runs", "IngestRunList")},
    "/v1/ingest/{run_id}": {"get": _op("One ingest run, with live progress", "IngestRun"),
                            "parameters": _path("run_id", "integer")},
    "/v1/ingest/{run_id}/events": {"get": {
        "summary": "An ingest run's progress as server-sent events",
        "responses": {"200": {"description": "`data: <IngestRun>` events, then `[DONE]`",
                              "content": {"text/event-stream": {"schema": {
                                  "type": "string"}}}}}},
        "parameters": _path("run_id", "integer")},
    "/v1/ingest/{run_id}/cancel": {"post": _op("Cancel an ingest run", "IngestRun"),
                                   "parameters": _path("run_id", "integer")},
    "/v1/hypercube/stats": {"get": _op("Counts of what the hypercube holds",
                                       "HypercubeStats")},
    "/v1/hypercube/points": {"get": {
        **_op("A stable sample of the hypercube's points on S³ (atoms first)",
              "HypercubePoints"),
        "parameters": [{"in": "query", "name": "limit", "required": False, "schema": {
            "type": "integer", "minimum": 1, "maximum": MAX_POINTS,
            "default": DEFAULT_POINTS}},
            {"in": "query", "name": "q", "required": False, "description":
             "find the points whose text is (else contains) this, instead of a sample",
             "schema": {"type": "string", "minLength": 1, "maxLength": 200}}]}},
    "/v1/hypercube/points/{point_id}": {"get": {**_op(
        "One point (U+XXXX for an atom, else a composition id), its composition tree and "
        "its nearest points (each with its distance, an angle in radians)",
        {"type": "object"}), "parameters": [{"in": "query", "name": "neighbors",
                                             "required": False, "schema": {
            "type": "integer", "minimum": 0, "maximum": MAX_NEIGHBORS,
            "default": DEFAULT_NEIGHBORS}}]}, "parameters": _path("point_id")},
    **{f"/v1/code/{name}": {"get": {
        **_op(f"Code intelligence: {name}", _CODE_RESPONSES.get(name, _ref("CodeList")),
              description=CODE_DOC),
        "parameters": [{"in": "query", "name": param, "required": param in query.required,
                        "schema": {"type": _JSON_TYPES[kind]}}
                       for param, _, kind in query.params]}}
       for name, query in QUERIES.items()},
    **DIALECT_PATHS,
}


def _with_error_responses(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation may answer an OpenAI error object (any route can meet a bad key, a
    foreign Host, a rate limit…), so each documents one as its ``default``."""
    error = {"description": "an OpenAI error object", **_json(_ref("Error"))}
    for item in paths.values():
        for method, operation in item.items():
            if method != "parameters":
                operation["responses"].setdefault("default", error)
    return paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hypercube", "version": __version__,
                 "description": "An offline, OpenAI-compatible endpoint over a SQLite "
                                "hypercube. Errors are OpenAI error objects."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": _with_error_responses(PATHS),
        "components": {
            "schemas": {**SCHEMAS, **REQUESTS, **DIALECT_SCHEMAS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


class OpenApiResource:
    accepts = ()

    def __init__(self) -> None:
        self._document = document()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document
