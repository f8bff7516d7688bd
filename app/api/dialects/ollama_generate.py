"""Ollama's ``POST /api/generate`` and ``POST /api/chat`` over the completions and chat
services.

``/api/generate`` continues ``prompt`` (after ``system`` and a blank line unless ``raw``:
see :data:`app.api.dialects.ollama_models.TEMPLATE`), after the token ids of ``context`` when the
client sends back the ``context`` an earlier answer returned; ``suffix`` fills in the middle
exactly as ``/v1/completions`` does. A ``format`` (``"json"`` or a JSON schema) routes the
prompt through the chat service with ``response_format``, where JSON mode and structured
output live. ``/api/chat`` is ``/v1/chat/completions`` with Ollama's fields. Both stream
NDJSON by default (``"stream": false`` for one object) and end with Ollama's statistics
(durations in nanoseconds, ``prompt_eval_count``, ``eval_count``); ``keep_alive`` is
accepted (the model never unloads), a request without a prompt or messages is Ollama's
"load the model" call and answers at once. A streamed ``suffix`` request sends the first
middle drawn, where the whole answer ranks several candidates by how well they join the
suffix (app/api/fim.py), as ``/v1/completions`` streamed and not do.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import falcon

from app.api.dialects.contract_ollama import (
    OllamaChatBody,
    OllamaCommon,
    OllamaGenerateBody,
    OllamaMessage,
)
from app.api.dialects.healed import HealedText, context_ids
from app.api.dialects.ollama_models import resolve_ollama_model
from app.api.dialects.ollama_options import sampling_fields
from app.api.dialects.streams import iso_time, nanoseconds, ndjson_line, sse_payloads, start_ndjson
from app.api.http.body import read_json
from app.api.http.watch import client_watch
from app.api.openai import completions
from app.api.openai.chat import ChatCompletions
from app.api.openai.completions import Completions
from app.api.openai.contract import read
from app.api.runtime.engine_slot import EngineSlot
from app.chat_template import SEPARATOR
from app.engine.types import EngineProtocol, TokenLogprob
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest

C = TypeVar("C", bound=OllamaCommon)


@dataclasses.dataclass
class Timing:
    """When a request started and produced its first token, for Ollama's statistics."""

    started: float
    first: float | None = None

    def mark(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def stats(self, prompt_tokens: int, generated: int) -> dict[str, int]:
        end = time.perf_counter()
        first = self.first or end
        return {"total_duration": nanoseconds(end - self.started), "load_duration": 0,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": nanoseconds(first - self.started),
                "eval_count": generated, "eval_duration": nanoseconds(end - first)}


@dataclasses.dataclass(frozen=True)
class _Asked(Generic[C]):
    """What every Ollama generation request starts from."""

    timing: Timing
    body: C
    engine: EngineProtocol
    name: str          # the model as the client named it

    @property
    def unload(self) -> bool:
        """keep_alive 0: the client asks to unload the model afterwards (it stays loaded)."""
        return self.body.keep_alive in (0, "0", "0s")


def _asked(slot: EngineSlot, req: falcon.Request, model: type[C]) -> _Asked[C]:
    timing = Timing(time.perf_counter())
    body = read(model, read_json(req))
    engine = slot.get()
    return _Asked(timing, body, engine, resolve_ollama_model(body, engine))


def _no_images(images: list[str] | None, where: str = "images") -> None:
    if images:
        raise InvalidRequest(f"'{where}' are not supported: this model reads text only",
                             param=where)


def _response_format(body: OllamaCommon) -> dict[str, Any] | None:
    """Ollama's ``format`` as OpenAI's ``response_format``."""
    value = body.format
    if value == "json":
        return {"type": "json_object"}
    if isinstance(value, dict):
        return {"type": "json_schema",
                "json_schema": {"name": "format", "schema": value, "strict": True}}
    return None  # none, or ""


def ollama_logprobs(tokens: list[TokenLogprob], healed: HealedText) -> list[dict[str, Any]]:
    return [{"token": healed.visible(t.text),
             "logprob": t.logprob if t.logprob is not None else 0.0,
             "top_logprobs": [{"token": text, "logprob": lp} for _, text, lp in t.top]}
            for t in tokens]


class OllamaGenerateResource:
    """``POST /api/generate``."""

    def __init__(self, slot: EngineSlot, completions_service: Completions,
                 chat: ChatCompletions) -> None:
        self.slot = slot
        self.service = completions_service
        self.chat = chat

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = _asked(self.slot, req, OllamaGenerateBody)
        timing, body, engine, name = asked.timing, asked.body, asked.engine, asked.name
        stream = body.stream
        _no_images(body.images)
        prompt, suffix, system, raw = body.prompt, body.suffix, body.system, body.raw
        context = body.context or []
        if not prompt and suffix is None and not context:
            resp.media = {"model": name, "created_at": iso_time(time.time()), "response": "",
                          "done": True, "done_reason": "unload" if asked.unload else "load"}
            return
        response_format = _response_format(body)
        watch = client_watch(req, self.service.metrics)
        sampling = sampling_fields(body.options)
        if response_format is not None:
            messages = ([{"role": "system", "content": system}] if system and not raw
                        else []) + [{"role": "user", "content": prompt}]
            chat_body = {"model": engine.info.id, "messages": messages,
                         "response_format": response_format, **sampling}
            chat_run = ChatRun(self.chat, engine, name, timing, chat_body, stream, watch)
            if stream:
                start_ndjson(resp)
                resp.stream = chat_run.stream(lambda text: {"response": text})
            else:
                resp.media = chat_run.respond(lambda text: {"response": text})
            return
        text = prompt if raw or not system else system + SEPARATOR + prompt
        completion: dict[str, Any] = {"model": engine.info.id, "prompt": text,
                                      "suffix": suffix, **sampling}
        if context:
            completion["prompt"] = [*context, *map(int, engine.tokenizer.encode(text))]
        request = completions.parse_request(completion, engine)
        top = (body.top_logprobs or 0) if body.logprobs else None
        if top is not None:
            request = dataclasses.replace(
                request, params=dataclasses.replace(request.params, logprobs=top))
        run = GenerateRun(self.service, engine, name, timing, request, watch,
                          with_context=not raw, logprobs=top is not None)
        if stream:
            start_ndjson(resp)
            resp.stream = run.stream()
        else:
            resp.media = run.respond()


@dataclasses.dataclass
class GenerateRun:
    service: Completions
    engine: EngineProtocol
    name: str
    timing: Timing
    request: completions.CompletionRequest
    watch: Any
    with_context: bool
    logprobs: bool

    def _final(self, generated: list[int], finish: str, healed: int) -> dict[str, Any]:
        prompt = self.request.prompts[0]
        final: dict[str, Any] = {"model": self.name, "created_at": iso_time(time.time()),
                                 "response": "", "done": True, "done_reason": finish}
        if self.with_context:
            final["context"] = context_ids(self.engine.tokenizer, prompt.ids, healed, generated)
        return {**final, **self.timing.stats(self.request.prompt_tokens, len(generated))}

    def respond(self) -> dict[str, Any]:
        prompt = self.request.prompts[0]
        choices, count = self.service.generate_choices(self.engine, self.request, prompt,
                                                       self.watch)
        self.service.metrics.count_tokens(self.request.prompt_tokens, count)
        self.timing.mark()
        choice = choices[0]
        result = self._final([t.token_id for t in choice.tokens], choice.finish_reason,
                             choice.healed)
        result["response"] = choice.text
        if self.logprobs:
            result["logprobs"] = ollama_logprobs(choice.tokens, HealedText(choice.healed))
        return result

    def stream(self) -> Iterator[bytes]:
        prompt = self.request.prompts[0]
        generated: list[int] = []
        finish = "stop"
        healed = HealedText()
        deltas = self.service.stream_deltas(self.engine, self.request, prompt, self.watch)
        try:
            for delta in deltas:
                self.timing.mark()
                healed.start(delta.healed)
                generated.extend(t.token_id for t in delta.tokens)
                if delta.finish_reason is not None:
                    finish = delta.finish_reason
                if delta.text or (self.logprobs and delta.tokens):
                    part: dict[str, Any] = {"model": self.name,
                                            "created_at": iso_time(time.time()),
                                            "response": delta.text, "done": False}
                    if self.logprobs:
                        part["logprobs"] = ollama_logprobs(delta.tokens, healed)
                    yield ndjson_line(part)
            yield ndjson_line(self._final(generated, finish, healed.chars))
        except ClientDisconnected:
            return
        except HypercubeError as exc:
            yield ndjson_line({"error": exc.message})
        finally:
            self.service.metrics.count_tokens(self.request.prompt_tokens, len(generated))


class ChatRun:
    """One chat-service request answered in Ollama's shape (``/api/chat``, and
    ``/api/generate`` with a ``format``)."""

    def __init__(self, chat: ChatCompletions, engine: EngineProtocol, name: str,
                 timing: Timing, body: dict[str, Any], stream: bool, watch: Any) -> None:
        if stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        self.chat = chat
        self.engine = engine
        self.name = name
        self.timing = timing
        self.request = chat.parse(body, engine)
        self.watch = watch

    def _head(self) -> dict[str, Any]:
        return {"model": self.name, "created_at": iso_time(time.time())}

    def respond(self, shape: Any) -> dict[str, Any]:
        result = self.chat.respond(self.engine, self.request, self.watch)
        self.timing.mark()
        choice = result["choices"][0]
        usage = result["usage"]
        return {**self._head(), **shape(choice["message"]["content"]), "done": True,
                "done_reason": choice["finish_reason"],
                **self.timing.stats(usage["prompt_tokens"], usage["completion_tokens"])}

    def stream(self, shape: Any) -> Iterator[bytes]:
        inner = self.chat.stream(self.engine, self.request, self.watch, self.timing.started)
        finish, usage = "stop", {"prompt_tokens": len(self.request.prompt_ids),
                                 "completion_tokens": 0}
        try:
            for payload in sse_payloads(inner):
                if "error" in payload:
                    yield ndjson_line({"error": payload["error"]["message"]})
                    return
                if payload.get("usage"):
                    usage = payload["usage"]
                for choice in payload["choices"]:
                    content = choice["delta"].get("content")
                    if content:
                        self.timing.mark()
                        yield ndjson_line({**self._head(), **shape(content), "done": False})
                    if choice["finish_reason"] is not None:
                        finish = choice["finish_reason"]
            yield ndjson_line({**self._head(), **shape(""), "done": True,
                               "done_reason": finish,
                               **self.timing.stats(usage["prompt_tokens"],
                                                   usage["completion_tokens"])})
        finally:
            inner.close()


def _chat_messages(messages: list[OllamaMessage]) -> list[dict[str, Any]]:
    for i, message in enumerate(messages):
        _no_images(message.images, f"messages[{i}].images")
    return [{"role": m.role, "content": m.content} for m in messages]


class OllamaChatResource:
    """``POST /api/chat``."""

    def __init__(self, slot: EngineSlot, chat: ChatCompletions) -> None:
        self.slot = slot
        self.chat = chat

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = _asked(self.slot, req, OllamaChatBody)
        timing, body, engine, name = asked.timing, asked.body, asked.engine, asked.name
        messages = _chat_messages(body.messages)
        if not messages:
            resp.media = {"model": name, "created_at": iso_time(time.time()),
                          "message": {"role": "assistant", "content": ""},
                          "done_reason": "unload" if asked.unload else "load", "done": True}
            return
        chat_body: dict[str, Any] = {"model": engine.info.id, "messages": messages,
                                     **sampling_fields(body.options)}
        response_format = _response_format(body)
        if response_format is not None:
            chat_body["response_format"] = response_format
        if body.tools:  # for the chat service, as OpenAI sends them
            chat_body["tools"] = [t.model_dump(exclude_none=True) for t in body.tools]
        watch = client_watch(req, self.chat.metrics)
        run = ChatRun(self.chat, engine, name, timing, chat_body, body.stream, watch)

        def shape(text: str) -> dict[str, Any]:
            return {"message": {"role": "assistant", "content": text}}
        if body.stream:
            start_ndjson(resp)
            resp.stream = run.stream(shape)
        else:
            resp.media = run.respond(shape)
