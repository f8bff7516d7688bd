"""``POST /v1/chat/completions``: a conversation, rendered by the chat template, continued.

Messages of every text role, ``n``, ``seed``, ``stop``, ``max_tokens`` /
``max_completion_tokens``, ``logprobs`` / ``top_logprobs``, ``response_format``
``{"type": "json_object"}`` (the reply is always valid JSON), and streams whose first delta
carries the role, whose last choice chunk carries the ``finish_reason`` and which end with the
usage chunk when asked, then ``[DONE]``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import falcon
import numpy as np

from app import chat_template
from app.api import json_mode, sse
from app.api.body import Fields, read_json
from app.api.completions import usage
from app.api.engine_slot import EngineSlot
from app.api.generation import (
    Choice,
    ClientWatch,
    check_context,
    choice_seeds,
    generate,
    run_choices,
)
from app.api.identity import fingerprint, new_id
from app.api.logprobs import chat_logprobs
from app.api.messages import read_messages
from app.api.metrics import ApiMetrics
from app.api.models import resolve_model
from app.api.sampling import check_stream_options, read_n, read_sampling, read_stop
from app.api.watch import client_watch
from app.api.work import chat_work, request_limit
from app.engine.types import EngineProtocol, SamplingParams
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest

MAX_TOP_LOGPROBS = 20
CHUNK = "chat.completion.chunk"


@dataclass
class ChatRequest:
    model: str
    prompt_ids: np.ndarray
    params: SamplingParams
    stops: list[str]
    n: int
    logprobs: bool
    json_object: bool
    stream: bool
    include_usage: bool


def parse_request(body: dict[str, Any], engine: EngineProtocol,
                  default_max_tokens: int | None = None) -> ChatRequest:
    """The request, validated. Without ``max_tokens``/``max_completion_tokens`` a reply is
    capped at ``default_max_tokens``: a model of code never writes the template's end tag,
    so an uncapped reply would run to the end of the context window."""
    f = Fields(body)
    model = resolve_model(f, engine)
    messages = read_messages(f)
    prompt_ids = engine.tokenizer.encode(chat_template.render(messages))
    max_tokens = f.integer("max_completion_tokens", minimum=0)
    if max_tokens is None:
        max_tokens = f.integer("max_tokens", minimum=0)
    if max_tokens is None:
        max_tokens = default_max_tokens
    logprobs = f.boolean("logprobs")
    top = f.integer("top_logprobs", None, minimum=0, maximum=MAX_TOP_LOGPROBS)
    if top is not None and not logprobs:
        raise InvalidRequest("'top_logprobs' requires 'logprobs' to be true",
                             param="top_logprobs")
    stream = f.boolean("stream")
    params = read_sampling(f, vocab_size=engine.tokenizer.vocab_size, max_tokens=max_tokens,
                           logprobs=(top or 0) if logprobs else None)
    check_context(engine.info, len(prompt_ids), max_tokens, "messages")
    return ChatRequest(model, prompt_ids, params, read_stop(f) + chat_template.STOPS,
                       read_n(f), logprobs, json_mode.requested(f), stream,
                       check_stream_options(f, stream))


class ChatCompletions:
    """The chat service, shared by the HTTP resource and the batch API."""

    def __init__(self, metrics: ApiMetrics, default_max_tokens: int | None = None) -> None:
        self.metrics = metrics
        self.default_max_tokens = default_max_tokens

    def parse(self, body: dict[str, Any], engine: EngineProtocol) -> ChatRequest:
        return parse_request(body, engine, self.default_max_tokens)

    def respond(self, engine: EngineProtocol, request: ChatRequest,
                watch: ClientWatch) -> dict[str, Any]:
        choices, generated = self._generate_all(engine, request, watch)
        prompt_tokens = len(request.prompt_ids)
        self.metrics.count_tokens(prompt_tokens, generated)
        return {
            **self._head(engine, request, new_id("chatcmpl-"), int(time.time()),
                         "chat.completion"),
            "choices": [
                {"index": i,
                 "message": {"role": "assistant", "content": c.text, "refusal": None,
                             "annotations": []},
                 "logprobs": (chat_logprobs(engine.tokenizer, c.tokens)
                              if request.logprobs else None),
                 "finish_reason": c.finish_reason}
                for i, c in enumerate(choices)
            ],
            "usage": usage(prompt_tokens, generated),
        }

    def _generate_all(self, engine: EngineProtocol, request: ChatRequest,
                      watch: ClientWatch) -> tuple[list[Choice], int]:
        if request.json_object:
            choices = [json_mode.generate(engine, request.prompt_ids,
                                          replace(request.params, seed=seed), watch)
                       for seed in choice_seeds(request.params.seed, request.n)]
            return choices, sum(len(c.tokens) for c in choices)
        return run_choices(engine, request.prompt_ids, request.params, request.stops, watch,
                           n=request.n, best_of=request.n)

    def _head(self, engine: EngineProtocol, request: ChatRequest, id_: str, created: int,
              object_: str) -> dict[str, Any]:
        return {"id": id_, "object": object_, "created": created, "model": request.model,
                "system_fingerprint": fingerprint(engine.info)}

    def stream(self, engine: EngineProtocol, request: ChatRequest, watch: ClientWatch,
               started: float) -> Iterator[bytes]:
        head = self._head(engine, request, new_id("chatcmpl-"), int(time.time()), CHUNK)
        if request.include_usage:
            head["usage"] = None  # every chunk but the last carries "usage": null
        tokenizer = engine.tokenizer
        generated = 0
        finished = False

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None,
                  tokens: list[Any] | None = None) -> bytes:
            logprobs = (chat_logprobs(tokenizer, tokens) if request.logprobs and tokens
                        else None)
            return sse.event({**head, "choices": [{"index": index, "delta": delta,
                                                   "logprobs": logprobs,
                                                   "finish_reason": finish}]})
        try:
            for index, seed in enumerate(choice_seeds(request.params.seed, request.n)):
                yield chunk(index, {"role": "assistant", "content": ""})
                if index == 0:
                    self.metrics.first_token.observe(time.perf_counter() - started)
                finish = "stop"
                for delta in self._deltas(engine, request, replace(request.params, seed=seed),
                                          watch):
                    generated += len(delta.tokens)
                    if delta.text or (request.logprobs and delta.tokens):
                        yield chunk(index, {"content": delta.text}, None, delta.tokens)
                    if delta.finish_reason is not None:
                        finish = delta.finish_reason
                yield chunk(index, {}, finish)
            if request.include_usage:
                yield sse.event({**head, "choices": [],
                                 "usage": usage(len(request.prompt_ids), generated)})
            yield sse.DONE
            finished = True
        except ClientDisconnected:
            return
        except HypercubeError as exc:
            finished = True
            yield sse.error_event(exc)
        finally:
            # Counted here so a stream cut short still reports the tokens it cost.
            self.metrics.count_tokens(len(request.prompt_ids), generated)
            if not finished:
                watch.cancel()

    def _deltas(self, engine: EngineProtocol, request: ChatRequest, params: SamplingParams,
                watch: ClientWatch) -> Iterator[Any]:
        if request.json_object:
            # JSON mode decides the whole reply before any of it is sure to be valid.
            choice = json_mode.generate(engine, request.prompt_ids, params, watch)
            yield from json_mode.as_deltas(choice)
        else:
            yield from generate(engine, request.prompt_ids, params, request.stops, watch)


class ChatCompletionsResource:
    def __init__(self, slot: EngineSlot, service: ChatCompletions) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        body = read_json(req)
        engine = self.slot.get()
        request = self.service.parse(body, engine)
        chat_work(request, engine.info.context_length, request_limit(req))
        watch = client_watch(req, self.service.metrics)
        if request.stream:
            sse.start(resp)
            resp.stream = self.service.stream(engine, request, watch, started)
        else:
            resp.media = self.service.respond(engine, request, watch)
