"""The other dialects' routes in ``/openapi.json`` (app/api/dialects/routes.py): Ollama,
llama.cpp's server, OpenAI's Responses API and the harnesses' ``/tokenizer_info``.

Their errors are in each dialect's shape (app/api/dialects/errors.py), so their operations
name their own error schemas instead of the OpenAI one. Their request bodies are the models
of app/api/dialects/contract_*.py (:data:`REQUESTS`, published by
app/api/openai/openapi_doc.py with the OpenAI ones); the answers are described here.
"""

from __future__ import annotations

from typing import Any

from app.api.dialects.contract_llamacpp import LlamaCompletionBody, LlamaInfillBody
from app.api.dialects.contract_ollama import (
    OllamaChatBody,
    OllamaEmbedBody,
    OllamaEmbeddingsBody,
    OllamaGenerateBody,
    OllamaShowBody,
)
from app.api.dialects.contract_responses import ResponsesBody
from app.api.http.sse import event_schema
from app.api.openai.contract_types import Body


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, response: dict[str, Any], error: str, *, request: str | None = None,
        stream: str | None = None, description: str | None = None) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": summary, **_json(response)}
    if stream is not None:
        media, text = stream.split(" ", 1)
        ok["content"][media] = {"schema": event_schema(text) if media == "text/event-stream"
                                else {"type": "string", "description": text}}
    op: dict[str, Any] = {"summary": summary, "responses": {
        "200": ok, "default": {"description": f"a {error} error", **_json(_ref(error))}}}
    if request is not None:
        op["requestBody"] = {"required": True, **_json(_ref(request))}
    if description:
        op["description"] = description
    return op


_INT = {"type": "integer"}
_STR = {"type": "string"}
_STATS = {k: _INT for k in ("total_duration", "load_duration", "prompt_eval_count",
                            "prompt_eval_duration", "eval_count", "eval_duration")}
_DETAILS = _obj({"parent_model": _STR, "format": _STR, "family": _STR,
                 "families": {"type": "array", "items": _STR}, "parameter_size": _STR,
                 "quantization_level": _STR})
_OLLAMA_MODEL = _obj({"name": _STR, "model": _STR, "modified_at": _STR, "size": _INT,
                      "digest": _STR, "details": _DETAILS})
_LLAMA_FINAL = _obj({
    "index": _INT, "content": _STR, "tokens": {"type": "array", "items": _INT},
    "stop": {"type": "boolean"}, "model": _STR, "tokens_predicted": _INT,
    "tokens_evaluated": _INT, "generation_settings": {"type": "object"}, "prompt": _STR,
    "has_new_line": {"type": "boolean"}, "truncated": {"type": "boolean"},
    "stop_type": {"enum": ["limit", "word"]}, "stopping_word": _STR,
    "tokens_cached": _INT, "timings": {"type": "object"},
    "completion_probabilities": {"type": "array", "items": {"type": "object"}}},
    ["content", "stop", "stop_type", "tokens_predicted", "tokens_evaluated", "timings"])

REQUESTS: dict[str, type[Body]] = {
    "OllamaGenerateRequest": OllamaGenerateBody, "OllamaChatRequest": OllamaChatBody,
    "OllamaEmbedRequest": OllamaEmbedBody, "OllamaEmbeddingsRequest": OllamaEmbeddingsBody,
    "OllamaModelRequest": OllamaShowBody, "LlamaCompletionRequest": LlamaCompletionBody,
    "LlamaInfillRequest": LlamaInfillBody, "ResponsesRequest": ResponsesBody,
}

SCHEMAS: dict[str, Any] = {
    "OllamaError": _obj({"error": _STR}),
    "LlamaError": _obj({"error": _obj({"code": _INT, "message": _STR, "type": _STR})}),
    "OllamaTags": _obj({"models": {"type": "array", "items": _OLLAMA_MODEL}}),
    "OllamaPs": _obj({"models": {"type": "array", "items": _obj({
        **{k: v for k, v in _OLLAMA_MODEL["properties"].items() if k != "modified_at"},
        "expires_at": _STR, "size_vram": _INT, "context_length": _INT})}}),
    "OllamaGenerate": _obj({"model": _STR, "created_at": _STR, "response": _STR,
                            "done": {"type": "boolean"}, "done_reason": _STR,
                            "context": {"type": "array", "items": _INT}, **_STATS},
                           ["model", "created_at", "response", "done"]),
    "OllamaChat": _obj({"model": _STR, "created_at": _STR,
                        "message": _obj({"role": {"const": "assistant"}, "content": _STR}),
                        "done": {"type": "boolean"}, "done_reason": _STR, **_STATS},
                       ["model", "created_at", "message", "done"]),
    "OllamaEmbed": _obj({"model": _STR, "embeddings": {"type": "array", "items": {
        "type": "array", "items": {"type": "number"}}}, "prompt_eval_count": _INT},
        ["model", "embeddings"]),
    "LlamaCompletion": _LLAMA_FINAL,
    "Response": _obj({
        "id": _STR, "object": {"const": "response"}, "created_at": {"type": "number"},
        "status": {"enum": ["completed", "incomplete", "in_progress"]}, "model": _STR,
        "output": {"type": "array", "items": _obj({
            "id": _STR, "type": {"const": "message"}, "role": {"const": "assistant"},
            "status": _STR, "content": {"type": "array", "items": _obj({
                "type": {"const": "output_text"}, "text": _STR,
                "annotations": {"type": "array"}}, ["type", "text", "annotations"])}})},
        "usage": {"anyOf": [{"type": "null"}, _obj({
            "input_tokens": _INT, "output_tokens": _INT, "total_tokens": _INT},)]}},
        ["id", "object", "created_at", "status", "model", "output"]),
    "TokenizerInfo": _obj({"tokenizer_class": _STR, "vocab_size": _INT,
                           "model_max_length": _INT, "eos_token": {"type": "null"},
                           "bos_token": {"type": "null"}, "chat_template": _STR},
                          ["eos_token", "bos_token", "chat_template"]),
    "LlamaTokenized": _obj({"tokens": {"type": "array", "items": {"oneOf": [
        _INT, _obj({"id": _INT, "piece": {"oneOf": [_STR, {"type": "array"}]}})]}}}),
}

_NDJSON = "application/x-ndjson one JSON object a line, the last with \"done\": true and " \
          "the statistics"
PATHS: dict[str, Any] = {
    "/api/tags": {"get": _op("Ollama: the models offered", _ref("OllamaTags"),
                             "OllamaError")},
    "/api/ps": {"get": _op("Ollama: the models loaded", _ref("OllamaPs"), "OllamaError")},
    "/api/version": {"get": _op("Ollama: the API version served", _obj({"version": _STR}),
                                "OllamaError")},
    "/api/show": {"post": _op("Ollama: the model's details, template and capabilities",
                              {"type": "object"}, "OllamaError",
                              request="OllamaModelRequest")},
    "/api/generate": {"post": _op("Ollama: continue a prompt (suffix: fill in the middle)",
                                  _ref("OllamaGenerate"), "OllamaError",
                                  request="OllamaGenerateRequest", stream=_NDJSON)},
    "/api/chat": {"post": _op("Ollama: the next message of a chat", _ref("OllamaChat"),
                              "OllamaError", request="OllamaChatRequest", stream=_NDJSON)},
    "/api/embed": {"post": _op("Ollama: embeddings of texts", _ref("OllamaEmbed"),
                               "OllamaError", request="OllamaEmbedRequest")},
    "/api/embeddings": {"post": _op("Ollama (older): the embedding of a prompt",
                                    _obj({"embedding": {"type": "array"}}), "OllamaError",
                                    request="OllamaEmbeddingsRequest")},
    "/completion": {"post": _op("llama.cpp: complete a prompt", _ref("LlamaCompletion"),
                                "LlamaError", request="LlamaCompletionRequest",
                                stream="text/event-stream `data:` pieces with their token "
                                       "ids, then the final object (no [DONE])")},
    "/infill": {"post": _op("llama.cpp: fill in the middle (llama.vscode, llama.vim)",
                            _ref("LlamaCompletion"), "LlamaError",
                            request="LlamaInfillRequest",
                            stream="text/event-stream as /completion")},
    "/props": {"get": _op("llama.cpp: default generation settings and the model",
                          {"type": "object"}, "LlamaError")},
    "/slots": {"get": _op("llama.cpp: refused with 501 not_supported_error (no slots kept)",
                          {"type": "array"}, "LlamaError"),
               "post": _op("llama.cpp: refused with 501 not_supported_error",
                           {"type": "object"}, "LlamaError")},
    "/v1/responses": {"post": _op("OpenAI Responses (stateless)", _ref("Response"), "Error",
                                  request="ResponsesRequest",
                                  stream="text/event-stream response.created … "
                                         "response.completed events with sequence_number")},
    "/tokenizer_info": {"get": _op("The tokenizer as vLLM describes it (lm-eval's remote "
                                   "tokenizer)", _ref("TokenizerInfo"), "Error")},
}
