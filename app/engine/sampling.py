"""Choosing the next token from the model's distribution under OpenAI's sampling controls.

Order of operations (as in vLLM and llama.cpp): the repetition penalty (DRY, below),
logit_bias and the presence/frequency penalties adjust the model's log-probabilities;
temperature divides them (0 means greedy: the most likely token, lowest id on ties); then
top_k, top_p and min_p cut the candidate set; a draw from the engine's seeded generator
picks from what is left. Presence/frequency penalties count the tokens generated so far in
this completion (not the prompt).

The repetition penalty ("don't repeat yourself", after the DRY sampler of
text-generation-webui and llama.cpp) exists because this model copies: its cache and
recency components predict that the text goes on as it went on before, and once the
completion repeats itself that prediction feeds on its own output (``self._threads._threads
._threads…`` until ``max_tokens``). For each candidate token it finds the longest suffix of
the text so far (prompt included) that occurred earlier followed by that candidate, and if
that repeat would reach ``dry_allowed_length`` tokens, subtracts ``dry_multiplier *
dry_base ** (length - dry_allowed_length)`` from the candidate's log-probability: a short
repeat costs little (code reuses names), each further token of a copy costs ``dry_base``
times more, so a loop is broken within a few tokens. A copy of earlier text ends at a
sequence breaker (a token whose text contains one, e.g. a newline), so repeating the
opening of a line or a string costs little, and breakers are never penalised for it. A
loop, though, text that repeats the text right before it (a line written again and again,
``self._a._a._a``), counts in full whatever it contains: DRY as text-generation-webui has
it stops at the breakers inside a repeated line, and at temperature 0.7 it still let 9%
of our outputs loop on short lines such as an indented comment marker repeated
(tests/bench/bench_generation_quality.py).
It applies to greedy decoding too: the argmax of a copying model is a fixed point that,
once entered, repeats until ``max_tokens``; with the penalty greedy output stays
deterministic but does not loop (``dry_multiplier=0`` gives the plain argmax).

The defaults (multiplier 0.8 and base 1.75 as in llama.cpp; shortest penalised repeat 3
tokens rather than 2, so that reusing a two-token name is free) took the share of looping
outputs on the default hypercube from 7% / 40% / 20% (temperature 1 / 0.7 / greedy) to 0,
and left their variety close to the corpus's own (distinct 4-grams, compression ratio).

Log-probabilities reported to callers are always the model's own, before any of this: the
penalty scales the distribution in place only while a token is chosen, then restores it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.engine.limits import (
    DRY_ALLOWED_LENGTH_RANGE,
    DRY_BASE_RANGE,
    DRY_MAX_BREAKER_CHARS,
    DRY_MAX_BREAKERS,
    DRY_MULTIPLIER_RANGE,
)
from app.engine.types import SamplingParams
from app.errors import InvalidRequest
from app.model import KMAX, RepetitionTables, Session
from jit import Kernels


def check_repetition_params(p: SamplingParams) -> None:
    """Raise InvalidRequest, naming the field, if the DRY parameters are out of range (the
    request contract refuses them first; this guards callers that build SamplingParams)."""
    if not DRY_MULTIPLIER_RANGE[0] <= p.dry_multiplier <= DRY_MULTIPLIER_RANGE[1]:
        raise InvalidRequest(f"dry_multiplier must be between {DRY_MULTIPLIER_RANGE[0]:g} and "
                             f"{DRY_MULTIPLIER_RANGE[1]:g}", param="dry_multiplier")
    if not DRY_BASE_RANGE[0] <= p.dry_base <= DRY_BASE_RANGE[1]:
        raise InvalidRequest(f"dry_base must be between {DRY_BASE_RANGE[0]:g} and "
                             f"{DRY_BASE_RANGE[1]:g}", param="dry_base")
    if not DRY_ALLOWED_LENGTH_RANGE[0] <= p.dry_allowed_length <= DRY_ALLOWED_LENGTH_RANGE[1]:
        raise InvalidRequest(f"dry_allowed_length must be between {DRY_ALLOWED_LENGTH_RANGE[0]}"
                             f" and {DRY_ALLOWED_LENGTH_RANGE[1]}", param="dry_allowed_length")
    breakers = p.dry_sequence_breakers
    if len(breakers) > DRY_MAX_BREAKERS or not all(
            isinstance(b, str) and 0 < len(b) <= DRY_MAX_BREAKER_CHARS for b in breakers):
        raise InvalidRequest(f"dry_sequence_breakers must be at most {DRY_MAX_BREAKERS} "
                             f"non-empty strings of at most {DRY_MAX_BREAKER_CHARS} characters",
                             param="dry_sequence_breakers")


def repetition_factors(multiplier: float, base: float, allowed: int) -> np.ndarray:
    """float64[KMAX + 1]: the probability factor exp(-penalty) for a repeat of each length
    (1 below ``allowed``; a penalty too large for float64 makes the factor 0)."""
    factors = np.ones(KMAX + 1)
    for length in range(allowed, KMAX + 1):
        penalty = multiplier * base ** (length - allowed)
        factors[length] = math.exp(-penalty)
    return factors


def breaker_mask(token_texts: list[str], breakers: list[str] | tuple[str, ...]) -> np.ndarray:
    """uint8[V + 1]: 1 for every token whose text contains a breaker, and for the document
    separator (index V)."""
    mask = np.zeros(len(token_texts) + 1, dtype=np.uint8)
    if breakers:
        mask[:-1] = [any(b in text for b in breakers) for text in token_texts]
    mask[-1] = 1
    return mask


@dataclass
class Sampler:
    """One completion's sampling state: its parameters, generator and token counts.

    :meth:`attach` connects it to the session whose distribution it samples from, which
    the repetition penalty needs (it reads that session's history); an unattached sampler
    applies no repetition penalty.
    """

    params: SamplingParams
    rng: np.random.Generator | None
    kernels: Kernels
    vocab_size: int
    _apply: Callable[[], int] | None = field(default=None, init=False, repr=False)
    _restore: Callable[[int], object] | None = field(default=None, init=False, repr=False)
    _pick: Callable[[], int] | None = field(default=None, init=False, repr=False)
    _out: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        p = self.params
        bad = [t for t in p.logit_bias if not 0 <= int(t) < self.vocab_size]
        if bad:
            raise InvalidRequest(f"logit_bias names token {bad[0]}, but token ids run from 0 "
                                 f"to {self.vocab_size - 1}", param="logit_bias")
        check_repetition_params(p)
        self._bias_ids: np.ndarray | None
        if p.logit_bias:
            self._bias_ids = np.array([int(t) for t in p.logit_bias], dtype=np.int64)
            self._bias = np.array([float(v) for v in p.logit_bias.values()], dtype=np.float64)
        else:
            self._bias_ids = None
        self._penalised = p.presence_penalty != 0.0 or p.frequency_penalty != 0.0
        self.counts = np.zeros(self.vocab_size, dtype=np.int64) if self._penalised else None
        self._plain = (self._bias_ids is None and not self._penalised and p.top_k == 0
                       and p.top_p >= 1.0 and p.min_p <= 0.0)
        self._greedy = p.temperature == 0.0
        self._fast = self._plain and p.temperature == 1.0
        if self.rng is None and not self._greedy:
            raise ValueError("a sampler that draws needs a generator")

    def attach(self, session: Session, tables: RepetitionTables | None) -> None:
        """Sample from ``session``'s distribution, penalising repeats of its history with
        ``tables`` (None: no repetition penalty)."""
        session.repetition_penalty(tables)
        bound = session.bound
        self._out = session.probs
        if tables is None:
            self._apply = self._restore = None
        else:
            self._apply, self._restore = bound.dry_apply, bound.dry_restore
        # Greedy and plain draws are one kernel call per token (penalty, choice and
        # restoring the distribution together); the other controls go through numpy.
        if self._greedy and self._plain:
            self._pick = bound.argmax if tables is None else bound.dry_argmax
        elif self._fast:
            draw = self._generator().random
            sample = bound.sample if tables is None else bound.dry_sample
            self._pick = lambda: sample(draw())
        else:
            self._pick = None

    def picker(self) -> Callable[[], int]:
        """:meth:`choose` from the attached session's distribution, as a function of no
        arguments (the fastest there is for these parameters: a kernel, for most)."""
        if self._out is None:
            raise ValueError("picker() needs an attached sampler")
        if self._pick is not None:
            return self._pick
        return functools.partial(self.choose, self._out)

    def choose(self, probs: np.ndarray) -> int:
        """The next token (``probs`` is the model's distribution and is left as it was)."""
        if self._pick is not None and probs is self._out:
            return self._pick()
        apply, restore = self._apply, self._restore
        changed = 0
        if apply is not None:
            if probs is not self._out:
                raise ValueError("an attached sampler samples its session's distribution")
            changed = apply()
        if changed and restore is not None:  # attach sets both or neither
            try:
                token = self._choose(probs)
            finally:
                restore(changed)
        else:
            token = self._choose(probs)
        if self.counts is not None:
            self.counts[token] += 1
        return token

    def _choose(self, probs: np.ndarray) -> int:
        if self._greedy:
            return int(probs.argmax() if self._plain else self._adjusted_logits(probs).argmax())
        if self._fast:
            return self.kernels.sample(probs, float(self._generator().random()))
        return self._draw(probs)

    def _adjusted_logits(self, probs: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a zero probability is a -inf logit
            logits = np.log(probs)
        if self._bias_ids is not None:
            logits[self._bias_ids] += self._bias
        if self.counts is not None:
            seen = self.counts > 0
            logits -= (self.counts * self.params.frequency_penalty
                       + seen * self.params.presence_penalty)
        return logits

    def _draw(self, probs: np.ndarray) -> int:
        p = self.params
        logits = self._adjusted_logits(probs) / p.temperature
        weights = np.exp(logits - logits.max())
        if p.top_k > 0 and p.top_k < len(weights):
            cut = np.partition(weights, len(weights) - p.top_k)[len(weights) - p.top_k]
            # Ties at the cut-off all stay: the result must not depend on sort stability.
            weights = np.where(weights >= cut, weights, 0.0)
        if p.top_p < 1.0:
            order = np.argsort(-weights, kind="stable")
            cumulative = np.cumsum(weights[order])
            keep = int(np.searchsorted(cumulative, p.top_p * cumulative[-1], side="left")) + 1
            mask = np.zeros(len(weights), dtype=bool)
            mask[order[:keep]] = True
            weights = np.where(mask, weights, 0.0)
        if p.min_p > 0.0:
            weights = np.where(weights >= p.min_p * weights.max(), weights, 0.0)
        return self.kernels.sample(np.ascontiguousarray(weights),
                                   float(self._generator().random()))

    def _generator(self) -> np.random.Generator:
        """The generator a draw needs (__post_init__ refused a drawing sampler without)."""
        if self.rng is None:
            raise ValueError("a sampler that draws needs a generator")
        return self.rng


def make_rng(seed: int | None) -> np.random.Generator:
    """PCG64 from the seed (identical streams in every process), or from OS entropy."""
    return np.random.Generator(np.random.PCG64(seed))
