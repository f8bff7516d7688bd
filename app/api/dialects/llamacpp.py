"""llama.cpp's server endpoints: ``POST /completion`` and ``POST /infill``.

Answers have llama.cpp's shape (``content``, ``tokens``, ``stop``, ``stop_type``,
``tokens_predicted``, ``tokens_evaluated``, ``generation_settings``, ``timings``, and
``completion_probabilities`` with ``n_probs``); streams are SSE ``data:`` events, one per
piece of text with its token ids, then the final object with ``"stop": true`` and no
``[DONE]`` (llama.cpp sends that only on its OpenAI routes). ``stop_type`` is ``limit`` or
``word`` (this model has no end token, so never ``eos``); ``truncated`` is always false
because an over-long prompt is refused, never cut.

``/infill`` (llama.vscode, llama.vim): the text before the cursor is ``input_prefix`` +
``prompt`` and the suffix ``input_suffix``, filled in by the completions service exactly as
``/v1/completions`` with ``suffix`` does, with the extension fields ``scope: "auto"`` and the
request's ``filename`` when it sends one. ``input_extra`` chunks of other files are written
before the prefix in the layout llama.cpp uses for models without repo-level FIM tokens
(each chunk after a ``--- snippet ---`` line), so they are part of the document the model
conditions on: this engine's cache is the whole prompt, so the chunks' identifiers and
phrases become likely continuations at once, with no index to keep and nothing stored. When
prefix, suffix, chunks and ``n_predict`` do not fit the window, the oldest chunks are left
out (as llama.cpp keeps the tail of the extra context); prefix and suffix are never cut.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import falcon

from app.api.dialects.contract_llamacpp import ExtraChunk, LlamaCompletionBody, LlamaInfillBody
from app.api.dialects.errors import llamacpp_error_of
from app.api.dialects.healed import HealedText
from app.api.dialects.llamacpp_request import (
    CompletionExtensions,
    NativeRequest,
    native_request,
    read_prompts,
    sampling_body,
)
from app.api.http import sse
from app.api.http.body import read_json
from app.api.http.watch import client_watch
from app.api.openai.completions import Completions
from app.api.openai.contract import read
from app.api.openai.prompts import Prompt
from app.api.runtime.engine_slot import EngineSlot
from app.chat_template import SEPARATOR
from app.engine.policy import check_context
from app.engine.types import Choice, EngineProtocol, TokenLogprob
from app.errors import ClientDisconnected, HypercubeError

SNIPPET = "\n\n--- snippet ---\n\n"


def _probs(tokens: list[TokenLogprob], healed: HealedText) -> list[dict[str, Any]]:
    """``completion_probabilities``: each token with its top alternatives (a healed token
    shows only its text after the prompt, so the tokens join into ``content``)."""
    return [_prob(t, healed.visible(t.text)) for t in tokens]


def _prob(token: TokenLogprob, visible: str) -> dict[str, Any]:
    shown = token.bytes if visible == token.text else visible.encode("utf-8")
    return {"id": token.token_id, "token": visible, "bytes": list(shown),
            "logprob": token.logprob if token.logprob is not None else 0.0,
            "top_logprobs": [{"id": i, "token": text, "logprob": lp,
                              "bytes": list(text.encode("utf-8"))} for i, text, lp in token.top]}


def _timings(prompt_tokens: int, generated: int, started: float,
             first: float | None) -> dict[str, Any]:
    end = time.perf_counter()
    first = first or end
    prompt_ms, predicted_ms = (first - started) * 1000, (end - first) * 1000

    def rate(n: int, ms: float) -> tuple[float, float]:
        return (ms / n if n else 0.0), (n * 1000 / ms if ms > 0 else 0.0)
    p_per_token, p_per_second = rate(prompt_tokens, prompt_ms)
    g_per_token, g_per_second = rate(generated, predicted_ms)
    return {"cache_n": 0, "prompt_n": prompt_tokens, "prompt_ms": prompt_ms,
            "prompt_per_token_ms": p_per_token, "prompt_per_second": p_per_second,
            "predicted_n": generated, "predicted_ms": predicted_ms,
            "predicted_per_token_ms": g_per_token, "predicted_per_second": g_per_second}


class NativeRun:
    """One native request run through the completions service and shaped as llama.cpp."""

    def __init__(self, service: Completions, engine: EngineProtocol, native: NativeRequest,
                 watch: Any, started: float) -> None:
        self.service = service
        self.engine = engine
        self.native = native
        self.watch = watch
        self.started = started
        self.first: float | None = None

    def _settings(self) -> dict[str, Any]:
        params = self.native.request.params
        return {"n_ctx": self.engine.info.context_length, "n_predict": params.max_tokens,
                "model": self.engine.info.id, "seed": params.seed,
                "temperature": params.temperature, "top_k": params.top_k,
                "top_p": params.top_p, "min_p": params.min_p,
                "presence_penalty": params.presence_penalty,
                "frequency_penalty": params.frequency_penalty,
                "dry_multiplier": params.dry_multiplier, "dry_base": params.dry_base,
                "dry_allowed_length": params.dry_allowed_length,
                "dry_sequence_breakers": params.dry_sequence_breakers,
                "stop": self.native.request.stops, "n_probs": self.native.n_probs,
                "stream": self.native.stream}

    def final(self, prompt: Prompt, index: int, text: str, tokens: list[TokenLogprob],
              finish: str, healed: int = 0) -> dict[str, Any]:
        generated = len(tokens)
        result: dict[str, Any] = {
            "index": index, "content": text,
            "tokens": ([t.token_id for t in tokens]
                       if self.native.return_tokens and not self.native.stream else []),
            "id_slot": -1, "stop": True, "model": self.engine.info.id,
            "tokens_predicted": generated, "tokens_evaluated": len(prompt.ids),
            "generation_settings": self._settings(), "prompt": prompt.text,
            "has_new_line": "\n" in text, "truncated": False,
            "stop_type": "limit" if finish == "length" else "word", "stopping_word": "",
            "tokens_cached": 0,
            "timings": _timings(len(prompt.ids), generated, self.started, self.first)}
        if self.native.n_probs and not self.native.stream:
            result["completion_probabilities"] = _probs(tokens, HealedText(healed))
        return result

    def respond(self) -> dict[str, Any] | list[dict[str, Any]]:
        results = []
        request = self.native.request
        for p, prompt in enumerate(request.prompts):
            choices, generated = self.service.generate_choices(self.engine, request, prompt,
                                                               self.watch)
            self.service.metrics.count_tokens(len(prompt.ids), generated)
            self.first = self.first or time.perf_counter()
            results.extend(self._shaped(prompt, p * request.n, choices))
        return results if self.native.many else results[0]

    def _shaped(self, prompt: Prompt, base: int, choices: list[Choice]) -> list[dict[str, Any]]:
        return [self.final(prompt, base + j, c.text, c.tokens, c.finish_reason, c.healed)
                for j, c in enumerate(choices)]

    def stream(self) -> Iterator[bytes]:
        request = self.native.request
        prompt = request.prompts[0]
        tokens: list[TokenLogprob] = []
        finish = "length"
        healed = HealedText()
        try:
            for delta in self.service.stream_deltas(self.engine, request, prompt,
                                                    self.watch):
                self.first = self.first or time.perf_counter()
                healed.start(delta.healed)
                tokens.extend(delta.tokens)
                if delta.finish_reason is not None:
                    finish = delta.finish_reason
                if not delta.text and not delta.tokens:
                    continue
                event: dict[str, Any] = {
                    "index": 0, "content": delta.text,
                    "tokens": [t.token_id for t in delta.tokens], "stop": False,
                    "id_slot": -1, "tokens_predicted": len(tokens),
                    "tokens_evaluated": len(prompt.ids)}
                if self.native.n_probs:
                    event["completion_probabilities"] = _probs(delta.tokens, healed)
                yield sse.event(event)
            yield sse.event(self.final(prompt, 0, "", tokens, finish))
        except ClientDisconnected:
            return
        except HypercubeError as exc:
            yield sse.event(llamacpp_error_of(exc))
        finally:
            self.service.metrics.count_tokens(len(prompt.ids), len(tokens))


class _NativeResource:
    """What ``/completion`` and ``/infill`` share: JSON bodies, the run, the answer."""

    def __init__(self, slot: EngineSlot, service: Completions) -> None:
        self.slot = slot
        self.service = service

    def _answer(self, req: falcon.Request, resp: falcon.Response, engine: EngineProtocol,
                native: NativeRequest, started: float) -> None:
        run = NativeRun(self.service, engine, native, client_watch(req, self.service.metrics),
                        started)
        if native.stream:
            sse.start(resp)
            resp.stream = run.stream()
        else:
            resp.media = run.respond()


class LlamaCompletionResource(_NativeResource):
    """``POST /completion``."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        asked = read(LlamaCompletionBody, read_json(req))
        engine = self.slot.get()
        prompts = read_prompts(asked.prompt, engine)
        native = native_request(asked, engine, prompts if len(prompts) > 1 else prompts[0],
                                several_prompts=len(prompts) > 1)
        self._answer(req, resp, engine, native, started)


def extra_context(engine: EngineProtocol, chunks: list[ExtraChunk], left: str,
                  suffix_tokens: int, max_tokens: int | None) -> str:
    """The chunks written before the prefix, the oldest left out until all fits."""
    limit = engine.info.context_length - suffix_tokens - (max_tokens or 0)
    while chunks:
        text = "".join(SNIPPET + chunk.text for chunk in chunks) + SEPARATOR
        if len(engine.tokenizer.encode(text + left)) <= limit:
            return text
        chunks = chunks[1:]
    return ""


class LlamaInfillResource(_NativeResource):
    """``POST /infill``."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        asked = read(LlamaInfillBody, read_json(req))
        engine = self.slot.get()
        suffix = asked.input_suffix
        extensions = CompletionExtensions(scope="auto", filename=asked.filename)
        left = asked.input_prefix + asked.prompt
        max_tokens = sampling_body(asked)["max_tokens"]
        suffix_tokens = len(engine.tokenizer.encode(suffix))
        # Checked without the chunks first: a prefix and suffix that alone overflow the
        # window are the caller's to shorten; the chunks are then fitted into what is left.
        check_context(engine.info, len(engine.tokenizer.encode(left)) + suffix_tokens,
                      max_tokens, "input_prefix")
        extra = extra_context(engine, asked.input_extra, left, suffix_tokens, max_tokens)
        native = native_request(asked, engine, extra + left, suffix or None,
                                extensions=extensions)
        self._answer(req, resp, engine, native, started)
