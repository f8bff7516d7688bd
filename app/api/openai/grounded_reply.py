"""A grounded chat answer (:mod:`app.grounded`) as an OpenAI chat completion, whole or streamed.

The answer is decided before any of it is sent, then given the request's controls:

- ``stop``: the answer ends before the first stop sequence (``finish_reason: "stop"``);
- ``max_tokens`` / ``max_completion_tokens``: the answer is cut after that many tokens of the
  real tokenizer (``finish_reason: "length"``);
- ``n``: a grounded answer is deterministic, so the ``n`` choices are the same answer;
- ``logprobs`` / ``top_logprobs``: each answer token's log-probability *under the model*
  given the rendered conversation and the answer before it (the engine's ``score``), with
  that many alternatives. The answer was not sampled from the model, so these say how
  likely the model finds the answer's text, not how sure the retrieval is;
- ``usage``: the rendered conversation's tokens and the answer's, counted by the tokenizer.

``choices[0].message.sources`` lists what the answer cites (contract 3: ``index``, ``path``,
``display_path``, ``line``, ``end_line``, ``kind``, ``name``, ``language``); a stream's first
chunk carries it in ``delta`` beside ``role``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.api.http import sse
from app.api.openai.completions import usage
from app.api.openai.logprobs import chat_logprobs
from app.engine.types import EngineProtocol, TokenLogprob
from app.grounded import Answer
from app.tokenizer import Tokenizer

# A streamed answer is sent a line at a time, or this many tokens when a line is longer.
CHUNK_TOKENS = 16


@dataclass
class Reply:
    text: str
    ids: list[int]
    finish_reason: str
    tokens: list[TokenLogprob] | None   # with log-probabilities, when asked for


def shape(engine: EngineProtocol, answer: Answer, prompt_ids: np.ndarray,
          max_tokens: int | None, stops: Sequence[str], logprobs: int | None) -> Reply:
    """The answer cut at the first stop sequence or the token budget, with its tokens."""
    text, finish = answer.text, "stop"
    cuts = [text.find(s) for s in stops if s and s in text]
    if cuts:
        text = text[:min(cuts)]
    tokenizer = engine.tokenizer
    ids = tokenizer.encode(text).tolist()
    if max_tokens is not None and len(ids) > max_tokens:
        ids = ids[:max_tokens]
        # A character split by the cut is left out rather than shown as U+FFFD.
        text = tokenizer.decode_bytes(ids).decode("utf-8", "ignore")
        finish = "length"
    tokens = None
    if logprobs is not None:
        scored = engine.score([*prompt_ids.tolist(), *ids], top=logprobs) if ids else []
        tokens = scored[len(prompt_ids):]
    return Reply(text, ids, finish, tokens)


def message(reply: Reply, answer: Answer) -> dict[str, Any]:
    return {"role": "assistant", "content": reply.text, "refusal": None, "annotations": [],
            "sources": [s.to_dict() for s in answer.sources]}


def choices(tokenizer: Tokenizer, reply: Reply, answer: Answer, n: int,
            logprobs: bool) -> list[dict[str, Any]]:
    return [{"index": i, "message": message(reply, answer),
             "logprobs": chat_logprobs(tokenizer, reply.tokens or []) if logprobs else None,
             "finish_reason": reply.finish_reason} for i in range(n)]


def pieces(tokenizer: Tokenizer, reply: Reply) -> list[tuple[str, list[TokenLogprob]]]:
    """The reply in stream chunks: whole lines (or :data:`CHUNK_TOKENS` tokens), each with
    its tokens' log-probabilities when there are any."""
    found: list[tuple[str, list[TokenLogprob]]] = []
    group: list[int] = []
    start = 0
    for position, token_id in enumerate(reply.ids):
        group.append(token_id)
        data = tokenizer.decode_bytes(group)
        if data.endswith(b"\n") or len(group) >= CHUNK_TOKENS:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a character continues in the next token
            found.append((text, (reply.tokens or [])[start:position + 1]))
            group, start = [], position + 1
    if group:
        found.append((tokenizer.decode_bytes(group).decode("utf-8", "ignore"),
                      (reply.tokens or [])[start:]))
    return found


def stream(tokenizer: Tokenizer, reply: Reply, answer: Answer, head: dict[str, Any], n: int,
           logprobs: bool, include_usage: bool, prompt_tokens: int) -> Iterator[bytes]:
    def chunk(index: int, delta: dict[str, Any], finish: str | None = None,
              tokens: list[TokenLogprob] | None = None) -> bytes:
        return sse.event({**head, "choices": [{
            "index": index, "delta": delta,
            "logprobs": chat_logprobs(tokenizer, tokens) if logprobs and tokens else None,
            "finish_reason": finish}]})
    parts = pieces(tokenizer, reply)
    sources = [s.to_dict() for s in answer.sources]
    for index in range(n):
        yield chunk(index, {"role": "assistant", "content": "", "sources": sources})
        for text, tokens in parts:
            yield chunk(index, {"content": text}, None, tokens)
        yield chunk(index, {}, reply.finish_reason)
    if include_usage:
        yield sse.event({**head, "choices": [],
                         "usage": usage(prompt_tokens, n * len(reply.ids))})
    yield sse.DONE
