"""``POST /v1/completions`` (and ``/v1/engines/{model}/completions``): text completion.

Prompts as OpenAI takes them, ``suffix`` (fill-in-the-middle), ``echo``, ``n``, ``best_of``,
``logprobs`` (with ``echo`` and ``max_tokens: 0`` this scores the prompt itself), streaming
with ``stream_options.include_usage``, every sampling control of the engine, and our
extensions ``filename``, ``language`` and ``scope`` (``free`` | ``line`` | ``block`` |
``auto``). This module only translates the wire format: each prompt becomes one
:class:`~app.engine.types.GenerationRequest` for the engine's generation policy.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, cast

from app.api.http import sse
from app.api.http.body import Fields
from app.api.http.metrics import ApiMetrics
from app.api.openai.contract import CompletionBody, read
from app.api.openai.generation import ClientWatch, generate_watched, watched
from app.api.openai.identity import fingerprint, new_id
from app.api.openai.logprobs import completion_logprobs, merge_completion_logprobs
from app.api.openai.models import resolve_model
from app.api.openai.prompts import Prompt, read_prompts
from app.api.openai.work import completion_work
from app.engine.policy import check_context, choice_seeds
from app.engine.types import (
    Choice,
    Delta,
    EngineProtocol,
    GenerationRequest,
    SamplingParams,
    Scope,
)
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest

OBJECT = "text_completion"


@dataclass
class CompletionRequest:
    model: str
    prompts: list[Prompt]
    suffix: Prompt | None
    params: SamplingParams
    stops: list[str]
    n: int
    best_of: int
    echo: bool
    logprobs: int | None
    stream: bool
    include_usage: bool
    filename: str | None = None
    language: str | None = None
    scope: Scope | None = None

    def generation(self, prompt: Prompt) -> GenerationRequest:
        """The engine's request for one of the prompts."""
        return GenerationRequest(
            prompt_ids=prompt.ids, params=self.params, prompt_text=prompt.text,
            suffix=None if self.suffix is None else self.suffix.text, stops=self.stops,
            n=self.n, best_of=self.best_of, scope=self.scope,
            language=self.language, filename=self.filename)

    @property
    def prompt_tokens(self) -> int:
        suffix = 0 if self.suffix is None else len(self.suffix.ids)
        return sum(len(p.ids) + suffix for p in self.prompts)


def parse_request(body: dict[str, Any], engine: EngineProtocol,
                  path_model: str | None = None) -> CompletionRequest:
    """The request, validated against :class:`app.api.openai.contract.CompletionBody`; the model
    named in the path (``/v1/engines/{model}/completions``) stands for the body's."""
    asked = read(CompletionBody, body if path_model is None else {**body, "model": path_model})
    f = Fields(body)
    model = resolve_model(f, engine, path_model)
    tokenizer = engine.tokenizer
    prompts = read_prompts(asked.prompt, "prompt", tokenizer,
                           max_length=engine.info.context_length)
    suffix = (None if asked.suffix is None
              else Prompt(tokenizer.encode(asked.suffix), asked.suffix))
    n = asked.n
    best_of = n if asked.best_of is None else asked.best_of
    if best_of < n:
        raise InvalidRequest(f"'best_of' ({best_of}) must be at least 'n' ({n})",
                             param="best_of")
    if asked.stream and best_of > n:
        raise InvalidRequest("'best_of' cannot be used with 'stream'", param="best_of")
    params = asked.params(vocab_size=tokenizer.vocab_size, max_tokens=asked.max_tokens,
                          logprobs=asked.logprobs)
    # The contract has checked it is one of the Scope literals.
    scope = cast("Scope | None", asked.scope)
    request = CompletionRequest(model, prompts, suffix, params, asked.stops(), n, best_of,
                                asked.echo, asked.logprobs, asked.stream,
                                asked.include_usage(), asked.filename, asked.language, scope)
    extra = 0 if suffix is None else len(suffix.ids)
    for i, prompt in enumerate(prompts):
        check_context(engine.info, len(prompt.ids) + extra, asked.max_tokens,
                      "prompt" if len(prompts) == 1 else f"prompt[{i}]")
    return request


class Completions:
    """The completions service, shared by the HTTP resources, the batch endpoint and the
    batch API."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def parse(self, body: dict[str, Any], engine: EngineProtocol,
              path_model: str | None = None) -> CompletionRequest:
        return parse_request(body, engine, path_model)

    def work(self, request: CompletionRequest, context_length: int, limit: int) -> int:
        """The tokens ``request`` may generate; 400 if over ``limit`` (app/api/openai/work.py)."""
        return completion_work(request, context_length, limit)

    # -- one JSON answer ------------------------------------------------------------------

    def respond(self, engine: EngineProtocol, request: CompletionRequest,
                watch: ClientWatch) -> dict[str, Any]:
        choices: list[dict[str, Any]] = []
        generated = 0
        for p, prompt in enumerate(request.prompts):
            made, count = self._choices(engine, request, prompt, watch)
            generated += count
            scored = (self._prompt_logprobs(engine, request, prompt)
                      if request.echo and request.logprobs is not None else None)
            for j, choice in enumerate(made):
                choices.append(self._choice(engine, request, prompt, scored, choice,
                                            p * request.n + j))
        self.metrics.count_tokens(request.prompt_tokens, generated)
        return {
            **self._head(engine, request, new_id("cmpl-"), int(time.time())),
            "choices": choices,
            "usage": usage(request.prompt_tokens, generated),
        }

    def generate_choices(self, engine: EngineProtocol, request: CompletionRequest,
                         prompt: Prompt, watch: ClientWatch) -> tuple[list[Choice], int]:
        """The choices for one prompt as the engine made them (tokens with ids, bytes and
        log-probabilities) and the tokens generated: what the dialect adapters
        (app/api/dialects/ollama*.py, llamacpp*.py) render in their own shapes."""
        return self._choices(engine, request, prompt, watch)

    def stream_deltas(self, engine: EngineProtocol, request: CompletionRequest,
                      prompt: Prompt, watch: ClientWatch) -> Iterator[Delta]:
        """The first choice for one prompt, delta by delta, as the dialect adapters stream
        it in their own shapes; nothing when ``max_tokens`` is 0."""
        if request.params.max_tokens == 0:
            return iter(())
        seed = choice_seeds(request.params.seed, 1)[0]
        deltas = engine.stream_choice(request.generation(prompt), seed, index=0,
                                      cancel=watch.event)
        return watched(deltas, watch)

    def _choices(self, engine: EngineProtocol, request: CompletionRequest, prompt: Prompt,
                 watch: ClientWatch) -> tuple[list[Choice], int]:
        if request.params.max_tokens == 0:
            return [Choice("", [], "length") for _ in range(request.n)], 0
        return generate_watched(engine, request.generation(prompt), watch)

    def _choice(self, engine: EngineProtocol, request: CompletionRequest, prompt: Prompt,
                scored_prompt: dict[str, Any] | None, choice: Choice,
                index: int) -> dict[str, Any]:
        """One choice; ``scored_prompt`` is the echoed prompt's logprobs, when asked for."""
        logprobs = None
        if request.logprobs is not None:
            # Offsets continue after the prompt, echoed or not (OpenAI counts them so).
            # A healed first token starts inside the prompt (its text re-writes the end).
            logprobs = completion_logprobs(engine.tokenizer, choice.tokens,
                                           len(prompt.text) - choice.healed)
            if scored_prompt is not None:
                logprobs = merge_completion_logprobs(scored_prompt, logprobs)
        text = prompt.text + choice.text if request.echo else choice.text
        return {"text": text, "index": index, "logprobs": logprobs,
                "finish_reason": choice.finish_reason}

    def _prompt_logprobs(self, engine: EngineProtocol, request: CompletionRequest,
                         prompt: Prompt) -> dict[str, Any]:
        scored = engine.score([int(i) for i in prompt.ids], request.logprobs or 0)
        return completion_logprobs(engine.tokenizer, scored, 0)

    def _head(self, engine: EngineProtocol, request: CompletionRequest, id_: str,
              created: int) -> dict[str, Any]:
        return {"id": id_, "object": OBJECT, "created": created, "model": request.model,
                "system_fingerprint": fingerprint(engine.info)}

    # -- a stream -----------------------------------------------------------------------

    def stream(self, engine: EngineProtocol, request: CompletionRequest, watch: ClientWatch,
               started: float) -> Generator[bytes, None, None]:
        head = self._head(engine, request, new_id("cmpl-"), int(time.time()))
        generated = 0
        first = True
        finished = False
        try:
            for p, prompt in enumerate(request.prompts):
                seeds = choice_seeds(request.params.seed, request.n)
                for j, seed in enumerate(seeds):
                    index = p * request.n + j
                    for piece in self._stream_choice(engine, request, prompt, index, seed,
                                                     watch):
                        text, tokens, finish, logprobs = piece
                        generated += tokens
                        if first:
                            self.metrics.first_token.observe(time.perf_counter() - started)
                            first = False
                        yield sse.event({**head, "choices": [{
                            "text": text, "index": index, "logprobs": logprobs,
                            "finish_reason": finish}]})
            if request.include_usage:
                yield sse.event({**head, "choices": [],
                                 "usage": usage(request.prompt_tokens, generated)})
            yield sse.DONE
            finished = True
        except ClientDisconnected:
            return
        except HypercubeError as exc:
            finished = True
            yield sse.error_event(exc)
        finally:
            # Counted here so a stream cut short still reports the tokens it cost.
            self.metrics.count_tokens(request.prompt_tokens, generated)
            if not finished:
                watch.cancel()

    def _stream_choice(self, engine: EngineProtocol, request: CompletionRequest,
                       prompt: Prompt, index: int, seed: int,
                       watch: ClientWatch) -> Iterator[tuple[str, int, str | None, Any]]:
        """(text, tokens generated, finish_reason, logprobs) for each chunk of one choice."""
        tokenizer = engine.tokenizer
        offset = len(prompt.text)
        if request.echo:
            logprobs = (self._prompt_logprobs(engine, request, prompt)
                        if request.logprobs is not None else None)
            done = request.params.max_tokens == 0
            yield prompt.text, 0, "length" if done else None, logprobs
            if done:
                return
        elif request.params.max_tokens == 0:
            yield "", 0, "length", None
            return
        unsent = 0  # tokens of deltas that carried no text, counted with the next chunk
        healed = 0
        deltas = engine.stream_choice(request.generation(prompt), seed, index=index % request.n,
                                      cancel=watch.event)
        for delta in watched(deltas, watch):
            healed = max(healed, delta.healed)
            if not delta.text and delta.finish_reason is None and (
                    request.logprobs is None or not delta.tokens):
                unsent += len(delta.tokens)
                continue
            logprobs = None
            if request.logprobs is not None:
                logprobs = completion_logprobs(tokenizer, delta.tokens, offset - healed)
                healed = 0
            offset += len(delta.text)
            yield delta.text, unsent + len(delta.tokens), delta.finish_reason, logprobs
            unsent = 0


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}
