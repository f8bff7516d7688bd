"""The model's few numbers: discounts, concentrations and the cache weight.

Each level of the hierarchy (a context order whose counts differ from the order below)
gets a concentration ``alpha`` chosen by (order bucket, count bucket, whether the level saw
a single distinct token), discounts for tokens seen once, twice and three or more times
chosen by (order bucket, count bucket), and the weight ``beta`` of one occurrence in the
current document (the cache) chosen by order bucket. They are
fitted on a held-out slice of the training documents (app/model/fit.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from app.model.segment import KMAX

# Order buckets: 0..8 each alone, then ever wider spans up to KMAX.
_BUCKET_EDGES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 48, KMAX)
NOB = len(_BUCKET_EDGES)
# Count buckets: 0 (cache only), then 1 + floor(log2(count)) up to 7 (>= 64).
NCB = 8
ALPHA_RANGE = (1e-3, 1e4)
BETA_MAX = 1e4


def order_buckets(kmax: int = KMAX) -> np.ndarray:
    """int32[kmax + 1]: the bucket of each order."""
    orders = np.arange(kmax + 1)
    return np.searchsorted(np.array(_BUCKET_EDGES), orders, side="left").astype(np.int32)


@dataclass
class ModelParams:
    alpha: np.ndarray   # float64[NOB * NCB * 2]
    disc: np.ndarray    # float64[NOB * NCB * 3]
    beta: np.ndarray    # float64[NOB]

    @classmethod
    def default(cls) -> ModelParams:
        return cls(
            alpha=np.full(NOB * NCB * 2, 0.5),
            disc=np.tile(np.array([0.6, 0.9, 1.2]), NOB * NCB),
            beta=np.full(NOB, 2.0),
        )

    def clipped(self) -> ModelParams:
        """Within the bounds that keep every probability positive and normalised."""
        disc = self.disc.reshape(-1, 3).copy()
        disc[:, 0] = np.clip(disc[:, 0], 0.0, 1.0)
        disc[:, 1] = np.clip(disc[:, 1], 0.0, 2.0)
        disc[:, 2] = np.clip(disc[:, 2], 0.0, 3.0)
        return ModelParams(np.clip(self.alpha, *ALPHA_RANGE), disc.reshape(-1),
                           np.clip(self.beta, 0.0, BETA_MAX))

    def to_json(self) -> str:
        return json.dumps({"alpha": self.alpha.tolist(), "disc": self.disc.tolist(),
                           "beta": self.beta.tolist()})

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        data = json.loads(text)
        params = cls(np.array(data["alpha"], dtype=np.float64),
                     np.array(data["disc"], dtype=np.float64),
                     np.array(data["beta"], dtype=np.float64))
        if params.alpha.shape != (NOB * NCB * 2,) or params.disc.shape != (NOB * NCB * 3,) \
                or params.beta.shape != (NOB,):
            raise ValueError("stored model parameters have the wrong shape")
        return params.clipped()


def count_bucket(count: int) -> int:
    bucket = 0
    while count > 0 and bucket < NCB - 1:
        bucket += 1
        count >>= 1
    return bucket


def base_distribution(unigram: np.ndarray, params: ModelParams) -> np.ndarray:
    """Order 0: the training unigram counts, discounted and backed off to uniform."""
    v = len(unigram)
    counts = unigram.astype(np.float64)
    total = float(unigram.sum())
    bucket = count_bucket(int(total))
    single = int(int((unigram > 0).sum()) == 1)
    alpha = float(params.alpha[bucket * 2 + single])
    d1, d2, d3 = (float(x) for x in params.disc[bucket * 3:bucket * 3 + 3])
    u1 = int((unigram == 1).sum())
    u2 = int((unigram == 2).sum())
    u3 = int((unigram >= 3).sum())
    denom = total + alpha
    gamma = (alpha + (d1 * u1 + d2 * u2 + d3 * u3)) / denom
    d = np.where(unigram == 0, 0.0, np.where(unigram == 1, d1, np.where(unigram == 2, d2, d3)))
    return np.ascontiguousarray((counts - d) / denom + gamma / v)
