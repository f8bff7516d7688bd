"""The model's few numbers: discounts, concentrations, cache weights and mixture weights.

Each level of the hierarchy (a context order whose counts differ from the order below)
gets a concentration ``alpha`` chosen by (order bucket, count bucket, cache count 0/1/2/3+,
distinct tokens 1/2/3+), discounts for tokens seen once, twice and three or more times
chosen by (order bucket, count bucket), and the weight ``beta`` of one occurrence in the
current document (the cache) chosen by (order bucket, count bucket). The hierarchy's
distribution is then mixed with the longest training match's (the ∞-gram) and the longest
cache match's, with weights chosen by (order bucket and count bucket of the longest training
match, bucket of the longest cache match). All are fitted on a held-out slice of the
training documents (app/model/fit.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from app.model.segment import KMAX
from jit.layout import ALPHA_SUB, NMIXC

# Order buckets: 0..8 each alone, then ever wider spans up to KMAX.
_BUCKET_EDGES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 48, KMAX)
NOB = len(_BUCKET_EDGES)
# Count buckets: 0 (cache only), then 1 + floor(log2(count)) up to 7 (>= 64).
NCB = 8
# Longest cache match buckets for the mixture: 0 (none), 1, 2, 3-4, 5-8, 9-16, 17-32, 33+.
_KCACHE_EDGES = (0, 1, 2, 4, 8, 16, 32)
NKB = len(_KCACHE_EDGES) + 1
NALPHA = NOB * NCB * ALPHA_SUB
NBETA = NOB * NCB
NMIX = NOB * NCB * NKB
ALPHA_RANGE = (1e-3, 1e4)
CONTEXT_WEIGHT_MAX = 8
BETA_MAX = 1e4


def order_buckets(kmax: int = KMAX) -> np.ndarray:
    """int32[kmax + 1]: the bucket of each order."""
    orders = np.arange(kmax + 1)
    return np.searchsorted(np.array(_BUCKET_EDGES), orders, side="left").astype(np.int32)


def kcache_buckets(kmax: int = KMAX) -> np.ndarray:
    """int32[kmax + 1]: the mixture bucket of each longest cache match."""
    orders = np.arange(kmax + 1)
    return np.searchsorted(np.array(_KCACHE_EDGES), orders, side="left").astype(np.int32)


def mixture_mask() -> np.ndarray:
    """bool[NMIX, NMIXC]: which components exist in each mixture bucket (no ∞-gram without
    a training count, no cache components without a cache match)."""
    mask = np.ones((NOB, NCB, NKB, NMIXC), dtype=bool)
    mask[:, 0, :, 1] = False
    mask[:, :, 0, 2:] = False
    return mask.reshape(NMIX, NMIXC)


@dataclass
class ModelParams:
    alpha: np.ndarray   # float64[NALPHA]
    disc: np.ndarray    # float64[NOB * NCB * 3]
    beta: np.ndarray    # float64[NBETA]
    mix: np.ndarray     # float64[NMIX * NMIXC] (hierarchy, ∞-gram, cache, most recent longest
                        # cache match, most recent cache match) weights; each bucket's sum to 1
    # How many times a count from the project's own earlier files counts (project context,
    # app/model/context.py), relative to a count from training data.
    context_weight: int = 1

    @classmethod
    def default(cls) -> ModelParams:
        mix = np.zeros((NMIX, NMIXC))
        mix[:, 0] = 1.0
        return cls(
            alpha=np.full(NALPHA, 0.5),
            disc=np.tile(np.array([0.6, 0.9, 1.2]), NOB * NCB),
            beta=np.full(NBETA, 2.0),
            mix=mix.ravel(),
        )

    def clipped(self) -> ModelParams:
        """Within the bounds that keep every probability positive and normalised."""
        disc = self.disc.reshape(-1, 3).copy()
        disc[:, 0] = np.clip(disc[:, 0], 0.0, 1.0)
        disc[:, 1] = np.clip(disc[:, 1], 0.0, 2.0)
        disc[:, 2] = np.clip(disc[:, 2], 0.0, 3.0)
        # The hierarchy keeps a share, so every token stays possible; a component that does
        # not exist in a bucket gets nothing, so each query's weights sum to 1.
        mix = np.where(mixture_mask(), np.clip(self.mix.reshape(NMIX, NMIXC), 0.0, 1.0), 0.0)
        mix[:, 0] = np.maximum(mix[:, 0], 1e-3)
        mix /= mix.sum(axis=1, keepdims=True)
        return ModelParams(np.clip(self.alpha, *ALPHA_RANGE), disc.reshape(-1),
                           np.clip(self.beta, 0.0, BETA_MAX), mix.ravel(),
                           int(np.clip(self.context_weight, 1, CONTEXT_WEIGHT_MAX)))

    def to_json(self) -> str:
        return json.dumps({"alpha": self.alpha.tolist(), "disc": self.disc.tolist(),
                           "beta": self.beta.tolist(), "mix": self.mix.tolist(),
                           "context_weight": self.context_weight})

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        data = json.loads(text)
        params = cls(np.array(data["alpha"], dtype=np.float64),
                     np.array(data["disc"], dtype=np.float64),
                     np.array(data["beta"], dtype=np.float64),
                     np.array(data["mix"], dtype=np.float64), int(data["context_weight"]))
        if params.alpha.shape != (NALPHA,) or params.disc.shape != (NOB * NCB * 3,) \
                or params.beta.shape != (NBETA,) or params.mix.shape != (NMIX * NMIXC,):
            raise ValueError("stored model parameters have the wrong shape")
        return params.clipped()


def count_bucket(count: int) -> int:
    bucket = 0
    while count > 0 and bucket < NCB - 1:
        bucket += 1
        count >>= 1
    return bucket


def count_buckets(counts: np.ndarray) -> np.ndarray:
    """:func:`count_bucket` of each of ``counts`` (non-negative integers below 2**53):
    1 + floor(log2(count)) is the exponent frexp gives, exactly."""
    _, exponent = np.frexp(np.asarray(counts, dtype=np.float64))
    return np.minimum(exponent, NCB - 1).astype(np.int64)


def base_distribution(unigram: np.ndarray, params: ModelParams) -> np.ndarray:
    """Order 0: the training unigram counts, discounted and backed off to uniform."""
    v = len(unigram)
    counts = unigram.astype(np.float64)
    total = float(unigram.sum())
    bucket = count_bucket(int(total))
    distinct = int((unigram > 0).sum())
    alpha = float(params.alpha[bucket * ALPHA_SUB + min(max(distinct, 1), 3) - 1])
    d1, d2, d3 = (float(x) for x in params.disc[bucket * 3:bucket * 3 + 3])
    u1 = int((unigram == 1).sum())
    u2 = int((unigram == 2).sum())
    u3 = int((unigram >= 3).sum())
    denom = total + alpha
    gamma = (alpha + (d1 * u1 + d2 * u2 + d3 * u3)) / denom
    d = np.where(unigram == 0, 0.0, np.where(unigram == 1, d1, np.where(unigram == 2, d2, d3)))
    return np.ascontiguousarray((counts - d) / denom + gamma / v)
