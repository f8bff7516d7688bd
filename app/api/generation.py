"""Running the engine for one request: context checks, choices, seeds, stops, cancellation.

Every generation goes through :meth:`EngineProtocol.stream`, streamed or not, so the same
code notices a client that went away between two tokens and stops the engine there.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.engine.constrained import TokenConstraint
from app.engine.stops import StopMatcher
from app.engine.types import Delta, EngineProtocol, ModelInfo, SamplingParams, TokenLogprob
from app.errors import ClientDisconnected, ContextLengthExceeded

_SEED_STEP = 0x9E3779B97F4A7C15  # golden-ratio increment: derived seeds share no low bits
_SEED_MASK = (1 << 63) - 1


class ClientWatch:
    """Whether the client is still connected, and the event that stops its generation.

    Waitress offers ``waitress.client_disconnected`` in the environment; it turns true once a
    write to the connection failed. A stream learns it that way within a chunk or two (and
    Waitress also closes the stream's generator, which cancels too); a non-streamed answer,
    which writes nothing until it is done, runs to its ``max_tokens``.
    """

    def __init__(self, is_gone: Callable[[], bool] | None = None,
                 on_cancel: Callable[[], None] | None = None) -> None:
        self.event = threading.Event()
        self._is_gone = is_gone
        self._on_cancel = on_cancel

    def gone(self) -> bool:
        if self.event.is_set():
            return True
        if self._is_gone is not None and self._is_gone():
            self.cancel()
            return True
        return False

    def cancel(self) -> None:
        if not self.event.is_set():
            self.event.set()
            if self._on_cancel is not None:
                self._on_cancel()


@dataclass
class Choice:
    """One finished generation."""

    text: str
    tokens: list[TokenLogprob]
    finish_reason: str

    def mean_logprob(self) -> float:
        values = [t.logprob for t in self.tokens if t.logprob is not None]
        return sum(values) / len(values) if values else 0.0


def check_context(info: ModelInfo, prompt_tokens: int, max_tokens: int | None,
                  param: str) -> None:
    """Refuse (never truncate) a prompt that, with the tokens asked for, overflows the window."""
    wanted = prompt_tokens + (max_tokens or 0)
    limit = info.context_length
    if wanted > limit or (max_tokens is None and prompt_tokens >= limit):
        asked = (f"{wanted} tokens ({prompt_tokens} in the prompt, {max_tokens} for the "
                 "completion)" if max_tokens else f"{prompt_tokens} tokens in the prompt")
        raise ContextLengthExceeded(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{asked}. Please reduce the length of the prompt or the completion.",
            param=param,
        )


def choice_seeds(seed: int | None, count: int) -> list[int]:
    """One seed per choice: the caller's seed for the first, derived ones after it, so
    ``n`` choices differ and the same request with the same seed repeats exactly."""
    base = secrets.randbits(63) if seed is None else seed & _SEED_MASK
    return [(base + i * _SEED_STEP) & _SEED_MASK for i in range(count)]


def generate(engine: EngineProtocol, prompt_ids: np.ndarray, params: SamplingParams,
             stops: Sequence[str], watch: ClientWatch,
             constraint: TokenConstraint | None = None) -> Iterator[Delta]:
    """The engine's deltas with stop sequences applied; the last one has ``finish_reason``.

    The API matches stop sequences itself (the engine gets none) because it also ends
    generations at strings the caller did not name, the chat template's turn markers and the
    start of a fill-in-the-middle suffix, which together exceed the engine's four.

    Raises:
        ClientDisconnected: the client went away (the engine has been told to stop).
    """
    scanner = StopMatcher(stops)
    inner = (engine.stream(prompt_ids, params, cancel=watch.event) if constraint is None
             else engine.stream(prompt_ids, params, cancel=watch.event, constraint=constraint))
    try:
        for delta in inner:
            if watch.gone():
                raise ClientDisconnected("the client closed the connection")
            text = scanner.push(delta.text)
            if scanner.stopped:
                yield Delta(text, delta.tokens, "stop")
                return
            if delta.finish_reason is not None:
                yield Delta(text + scanner.flush(), delta.tokens, delta.finish_reason)
                return
            yield Delta(text, delta.tokens)
    finally:
        # Closing runs the engine's own cleanup now rather than whenever GC gets to it.
        close = getattr(inner, "close", None)
        if close is not None:
            close()


def collect(deltas: Iterator[Delta]) -> Choice:
    texts: list[str] = []
    tokens: list[TokenLogprob] = []
    finish = "stop"
    for delta in deltas:
        texts.append(delta.text)
        tokens.extend(delta.tokens)
        if delta.finish_reason is not None:
            finish = delta.finish_reason
    return Choice("".join(texts), tokens, finish)


def run_choices(engine: EngineProtocol, prompt_ids: np.ndarray, params: SamplingParams,
                stops: Sequence[str], watch: ClientWatch, *, n: int, best_of: int,
                rank: Callable[[Choice], float] | None = None) -> tuple[list[Choice], int]:
    """``best_of`` generations with derived seeds, the best ``n`` of them first.

    Candidates are ranked by mean log-probability per token (OpenAI's definition of "best")
    unless ``rank`` says otherwise. Returns the chosen choices and the number of tokens
    generated across all candidates (what the usage reports).
    """
    if best_of > n or rank is not None:
        # Ranking needs each token's log-probability even if the caller did not ask for it.
        params = dataclasses.replace(params, logprobs=max(0, params.logprobs or 0))
    candidates = [
        collect(generate(engine, prompt_ids, dataclasses.replace(params, seed=seed),
                         stops, watch))
        for seed in choice_seeds(params.seed, best_of)
    ]
    generated = sum(len(c.tokens) for c in candidates)
    if best_of > n or rank is not None:
        key = rank or Choice.mean_logprob
        candidates = sorted(candidates, key=key, reverse=True)[:n]
    return candidates, generated
