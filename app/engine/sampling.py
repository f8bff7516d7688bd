"""Choosing the next token from the model's distribution under OpenAI's sampling controls.

Order of operations (as in vLLM and llama.cpp): logit_bias and the presence/frequency
penalties adjust the model's log-probabilities; temperature divides them (0 means greedy:
the most likely token, lowest id on ties); then top_k, top_p and min_p cut the candidate
set; a draw from the engine's seeded generator picks from what is left. Penalties count the
tokens generated so far in this completion (not the prompt).

Log-probabilities reported to callers are always the model's own, before any of this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.types import SamplingParams
from app.errors import InvalidRequest
from jit import Kernels


@dataclass
class Sampler:
    """One completion's sampling state: its parameters, generator and token counts."""

    params: SamplingParams
    rng: np.random.Generator
    kernels: Kernels
    vocab_size: int

    def __post_init__(self) -> None:
        p = self.params
        bad = [t for t in p.logit_bias if not 0 <= int(t) < self.vocab_size]
        if bad:
            raise InvalidRequest(f"logit_bias names token {bad[0]}, but token ids run from 0 "
                                 f"to {self.vocab_size - 1}", param="logit_bias")
        self._bias_ids = np.array([int(t) for t in p.logit_bias], dtype=np.int64)
        self._bias = np.array([float(v) for v in p.logit_bias.values()], dtype=np.float64)
        self._penalised = p.presence_penalty != 0.0 or p.frequency_penalty != 0.0
        self.counts = np.zeros(self.vocab_size, dtype=np.int64) if self._penalised else None
        self._plain = (not len(self._bias_ids) and not self._penalised and p.top_k == 0
                       and p.top_p >= 1.0 and p.min_p <= 0.0)

    def choose(self, probs: np.ndarray) -> int:
        """The next token (``probs`` is the model's distribution and is not modified)."""
        p = self.params
        if p.temperature == 0.0:
            token = int(np.argmax(self._adjusted_logits(probs)) if not self._plain
                        else np.argmax(probs))
        elif self._plain and p.temperature == 1.0:
            token = self.kernels.sample(probs, float(self.rng.random()))
        else:
            token = self._draw(probs)
        if self.counts is not None:
            self.counts[token] += 1
        return token

    def _adjusted_logits(self, probs: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a zero probability is a -inf logit
            logits = np.log(probs)
        if len(self._bias_ids):
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
        return self.kernels.sample(np.ascontiguousarray(weights), float(self.rng.random()))


def make_rng(seed: int | None) -> np.random.Generator:
    """PCG64 from the seed (identical streams in every process), or from OS entropy."""
    return np.random.Generator(np.random.PCG64(seed))
