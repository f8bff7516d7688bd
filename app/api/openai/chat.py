"""``POST /v1/chat/completions``: a conversation answered from the code index, or continued.

A plain conversation is answered by grounded chat (:mod:`app.grounded`: the definitions,
call sites, passages or similar code the question asks for, cited by file and line; see
:mod:`app.api.openai.grounded_reply` for what ``n``, ``stop``, ``max_tokens`` and ``logprobs`` mean
for such an answer); a request to continue code, JSON mode and requests declaring ``tools``
go to the model. Code to continue is completed like an editor's completion of it (to the
end of the block it opens, in its language) and shown with it in one fenced block; JSON mode
and tools decode the conversation rendered by the chat template.

Messages of every text role, ``n``, ``seed``, ``stop``, ``max_tokens`` /
``max_completion_tokens``, ``logprobs`` / ``top_logprobs``, and streams whose first delta
carries the role, whose last choice chunk carries the ``finish_reason`` and which end with the
usage chunk when asked, then ``[DONE]``.

Structured replies: ``response_format`` ``json_object`` or ``json_schema``
(:mod:`app.api.openai.json_mode`) and tool calls (:mod:`app.api.openai.tools`) are decoded
under a grammar, so they always parse and validate. Such a reply ends where its grammar
does: stop sequences do not apply to it, and without ``max_tokens`` it gets
:data:`app.api.openai.json_mode.DEFAULT_MAX_TOKENS`. If ``max_tokens`` runs out first, the
reply is cut there with finish_reason ``"length"`` (and is then not complete JSON).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app import chat_template
from app.api.http import sse
from app.api.http.body import Fields
from app.api.http.metrics import ApiMetrics
from app.api.openai import grounded_reply, json_mode, tools
from app.api.openai.completions import usage
from app.api.openai.contract import ChatBody, read
from app.api.openai.generation import Choice, ClientWatch, generate_watched, watched
from app.api.openai.identity import fingerprint, new_id
from app.api.openai.logprobs import chat_logprobs
from app.api.openai.messages import read_messages
from app.api.openai.models import resolve_model
from app.api.openai.work import chat_work
from app.chat_template import Message
from app.engine.constrained import Grammar
from app.engine.policy import check_context, choice_seeds
from app.engine.types import EngineProtocol, GenerationRequest, SamplingParams
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest
from app.grounded import Answer, Continuation, GroundedChat

CHUNK = "chat.completion.chunk"


@dataclass
class ChatRequest:
    model: str
    prompt_ids: np.ndarray
    params: SamplingParams
    stops: list[str]
    n: int
    logprobs: bool
    stream: bool
    include_usage: bool
    messages: list[Message]
    grounded: bool  # answered from the code index (no grammar, no tool call)
    user_stops: list[str]
    grammar: Grammar | None = None   # the reply is decoded under it (JSON, tool arguments)
    tool: tools.Tool | None = None   # the reply is a call of this tool
    continued: Continuation | None = None  # code to continue, and the fence it is shown in

    def generation(self, params: SamplingParams | None = None) -> GenerationRequest:
        """The engine's request: the rendered conversation continued as it is (the
        template's end is not a word to heal), ``free`` to a stop or the budget; under the
        grammar, when there is one (a fresh constraint per choice); for code to continue,
        that code's completion (:class:`Continuation`)."""
        params = params or self.params
        grammar = self.grammar
        constraint = (None if grammar is None
                      else lambda: grammar.constraint(params.max_tokens))
        if self.continued is not None:
            return self.continued.request(self.prompt_ids, params, self.user_stops, self.n)
        return GenerationRequest(prompt_ids=self.prompt_ids, params=params,
                                 stops=self.stops, n=self.n, best_of=self.n, scope="free",
                                 heal=False, constraint=constraint)


def parse_request(body: dict[str, Any], engine: EngineProtocol,
                  default_max_tokens: int | None = None) -> ChatRequest:
    """The request, validated. Without ``max_tokens``/``max_completion_tokens`` a reply is
    capped at ``default_max_tokens``: a model of code never writes the template's end tag,
    so an uncapped reply would run to the end of the context window."""
    asked = read(ChatBody, body)
    f = Fields(body)
    model = resolve_model(f, engine)
    messages = read_messages(asked.messages)
    prompt_ids = engine.tokenizer.encode(chat_template.render(messages))
    tool = tools.choose_tool(asked.tool_choice, tools.read_tools(asked.tools, engine.tokenizer),
                             messages)
    grammar = json_mode.read_grammar(asked.response_format, engine.tokenizer, messages)
    if tool is not None:
        grammar = tool.grammar
    max_tokens = asked.max_completion_tokens
    if max_tokens is None:
        max_tokens = asked.max_tokens
    if max_tokens is None:
        max_tokens = default_max_tokens
        if grammar is not None:
            max_tokens = min(max_tokens or json_mode.DEFAULT_MAX_TOKENS,
                             json_mode.DEFAULT_MAX_TOKENS)
    top = asked.top_logprobs
    if top is not None and not asked.logprobs:
        raise InvalidRequest("'top_logprobs' requires 'logprobs' to be true",
                             param="top_logprobs")
    params = asked.params(vocab_size=engine.tokenizer.vocab_size, max_tokens=max_tokens,
                          logprobs=(top or 0) if asked.logprobs else None)
    check_context(engine.info, len(prompt_ids), max_tokens, "messages")
    user_stops = asked.stops()
    stops = user_stops + chat_template.STOPS if grammar is None else []
    # Everything that is not decoded under a grammar or as a tool call (tool_choice "none",
    # or "auto" when no declared tool fits) is answered from the code index.
    grounded = grammar is None and tool is None
    return ChatRequest(model, prompt_ids, params, stops, asked.n, asked.logprobs,
                       asked.stream, asked.include_usage(), messages, grounded, user_stops,
                       grammar, tool)


class ChatCompletions:
    """The chat service, shared by the HTTP resource and the batch API."""

    def __init__(self, metrics: ApiMetrics, default_max_tokens: int | None = None,
                 grounded: GroundedChat | None = None) -> None:
        self.metrics = metrics
        self.default_max_tokens = default_max_tokens
        self.grounded = grounded

    def parse(self, body: dict[str, Any], engine: EngineProtocol,
              path_model: str | None = None) -> ChatRequest:
        """The request; a model named in the route's path stands for the body's, as for
        completions (:class:`app.api.openai.generation_resource.GenerationResource` passes it; no
        chat route names one)."""
        if path_model is not None:
            body = {**body, "model": path_model}
        return parse_request(body, engine, self.default_max_tokens)

    def work(self, request: ChatRequest, context_length: int, limit: int) -> int:
        """The tokens ``request`` may generate; 400 if over ``limit`` (app/api/openai/work.py)."""
        return chat_work(request, context_length, limit)

    def _route(self, engine: EngineProtocol,
               request: ChatRequest) -> tuple[ChatRequest, Answer | None]:
        """The grounded answer, or the request for the model: as it came, or, when the
        question is code to continue, with that code as the prompt."""
        if not request.grounded or self.grounded is None:
            return request, None
        answer = self.grounded.answer(request.messages)
        if answer.code is None:
            return request, answer
        return replace(request, prompt_ids=engine.tokenizer.encode(answer.code),
                       continued=Continuation.of(answer.code, answer.language)), None

    def _grounded_reply(self, engine: EngineProtocol, request: ChatRequest,
                        answer: Answer) -> grounded_reply.Reply:
        return grounded_reply.shape(engine, answer, request.prompt_ids,
                                    request.params.max_tokens, request.user_stops,
                                    request.params.logprobs if request.logprobs else None)

    def respond(self, engine: EngineProtocol, request: ChatRequest,
                watch: ClientWatch) -> dict[str, Any]:
        request, answer = self._route(engine, request)
        if answer is not None:
            reply = self._grounded_reply(engine, request, answer)
            prompt_tokens, generated = len(request.prompt_ids), request.n * len(reply.ids)
            self.metrics.count_tokens(prompt_tokens, generated)
            return {**self._head(engine, request, new_id("chatcmpl-"), int(time.time()),
                                 "chat.completion"),
                    "choices": grounded_reply.choices(engine.tokenizer, reply, answer,
                                                      request.n, request.logprobs),
                    "usage": usage(prompt_tokens, generated)}
        choices, generated = self._generate_all(engine, request, watch)
        prompt_tokens = len(request.prompt_ids)
        self.metrics.count_tokens(prompt_tokens, generated)
        return {
            **self._head(engine, request, new_id("chatcmpl-"), int(time.time()),
                         "chat.completion"),
            "choices": [self._choice(engine, request, i, c) for i, c in enumerate(choices)],
            "usage": usage(prompt_tokens, generated),
        }

    def _choice(self, engine: EngineProtocol, request: ChatRequest, index: int,
                choice: Choice) -> dict[str, Any]:
        if request.tool is not None:
            return {"index": index, "message": tools.call_message(request.tool, choice.text),
                    "logprobs": None, "finish_reason": _call_finish(choice.finish_reason)}
        content = (choice.text if request.continued is None
                   else request.continued.show(choice.text))
        return {"index": index,
                "message": {"role": "assistant", "content": content, "refusal": None,
                            "annotations": []},
                "logprobs": (chat_logprobs(engine.tokenizer, choice.tokens)
                             if request.logprobs else None),
                "finish_reason": choice.finish_reason}

    def _generate_all(self, engine: EngineProtocol, request: ChatRequest,
                      watch: ClientWatch) -> tuple[list[Choice], int]:
        return generate_watched(engine, request.generation(), watch)

    def _head(self, engine: EngineProtocol, request: ChatRequest, id_: str, created: int,
              object_: str) -> dict[str, Any]:
        return {"id": id_, "object": object_, "created": created, "model": request.model,
                "system_fingerprint": fingerprint(engine.info)}

    def stream(self, engine: EngineProtocol, request: ChatRequest, watch: ClientWatch,
               started: float) -> Generator[bytes, None, None]:
        request, answer = self._route(engine, request)
        head = self._head(engine, request, new_id("chatcmpl-"), int(time.time()), CHUNK)
        if request.include_usage:
            head["usage"] = None  # every chunk but the last carries "usage": null
        if answer is not None:
            reply = self._grounded_reply(engine, request, answer)
            self.metrics.first_token.observe(time.perf_counter() - started)
            self.metrics.count_tokens(len(request.prompt_ids), request.n * len(reply.ids))
            yield from grounded_reply.stream(engine.tokenizer, reply, answer, head, request.n,
                                             request.logprobs, request.include_usage,
                                             len(request.prompt_ids))
            return
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
            tool = request.tool
            for index, seed in enumerate(choice_seeds(request.params.seed, request.n)):
                yield chunk(index, {"role": "assistant", "content": ""} if tool is None
                            else tools.first_delta(tool))
                if index == 0:
                    self.metrics.first_token.observe(time.perf_counter() - started)
                continued = request.continued
                if continued is not None:
                    yield chunk(index, {"content": continued.opening})
                finish = "stop"
                for delta in self._deltas(engine, request, replace(request.params, seed=seed),
                                          watch):
                    generated += len(delta.tokens)
                    if tool is not None:
                        if delta.text:
                            yield chunk(index, tools.arguments_delta(delta.text))
                    elif delta.text or (request.logprobs and delta.tokens):
                        yield chunk(index, {"content": delta.text}, None, delta.tokens)
                    if delta.finish_reason is not None:
                        finish = delta.finish_reason
                if continued is not None:
                    yield chunk(index, {"content": continued.closing})
                yield chunk(index, {}, finish if tool is None else _call_finish(finish))
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
        yield from watched(engine.stream_choice(request.generation(params), params.seed or 0,
                                                cancel=watch.event), watch)


def _call_finish(finish: str) -> str:
    """A call whose arguments are complete ends with "tool_calls"; one cut short, "length"."""
    return "tool_calls" if finish == "stop" else finish
