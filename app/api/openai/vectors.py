"""Text embeddings from the hypercube's own statistics.

A text becomes the hashed bag of its token 1-, 2- and 3-grams (its tokens are the hypercube's
compositions), each n-gram weighted by how rare its tokens are across the hypercube's
documents (inverse document frequency, read from the stored token streams) and by a damped
count, signed-hashed into ``dimensions`` buckets and normalised to length 1. Texts that share
most of their n-grams — near-duplicates, small edits — get cosine similarity near 1; texts
sharing only common tokens stay near 0. Deterministic, no training, computed in microseconds.
"""

from __future__ import annotations

import threading

import numpy as np

from app.store import Store
from app.store.tokens import DTYPE, unpack_tokens

_ORDERS = ((1, 1.0), (2, 0.8), (3, 0.6))  # (n-gram order, weight)
_SALT = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads n-gram keys evenly over the buckets."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def inverse_document_frequency(store: Store, vocab_size: int) -> np.ndarray:
    """``log((N + 1) / (df + 1)) + 1`` per token id, over the stored documents."""
    df = np.zeros(vocab_size, dtype=np.int64)
    documents = 0
    for (blob,) in store.conn.execute("SELECT tokens FROM document_tokens"):
        ids = unpack_tokens(blob, DTYPE)
        df[np.unique(ids[ids < vocab_size])] += 1
        documents += 1
    return (np.log((documents + 1) / (df + 1)) + 1.0).astype(np.float32)


class Embedder:
    def __init__(self, idf: np.ndarray) -> None:
        self.idf = idf

    def embed(self, ids: np.ndarray, dimensions: int) -> np.ndarray:
        ids = ids.astype(np.uint64)
        weights = self.idf[np.minimum(ids, len(self.idf) - 1).astype(np.int64)]
        vector = np.zeros(dimensions, dtype=np.float64)
        base = np.uint64(len(self.idf))
        for order, order_weight in _ORDERS:
            if len(ids) < order:
                break
            count = len(ids) - order + 1
            keys = ids[:count].copy()
            gram_weight = weights[:count].astype(np.float64)
            with np.errstate(over="ignore"):
                for k in range(1, order):
                    keys = keys * base + ids[k:k + count]
                    gram_weight = gram_weight + weights[k:k + count]
                hashed = _mix(keys + _SALT * np.uint64(order))
            unique, first, tf = np.unique(hashed, return_index=True, return_counts=True)
            value = (gram_weight[first] / order) * (1.0 + np.log(tf)) * order_weight
            sign = np.where((unique >> np.uint64(63)) == 1, -1.0, 1.0)
            np.add.at(vector, (unique % np.uint64(dimensions)).astype(np.int64), sign * value)
        norm = np.linalg.norm(vector)
        return (vector / norm if norm > 0 else vector).astype(np.float32)


class EmbedderCache:
    """One :class:`Embedder` per engine (its vocabulary and corpus), built on first use."""

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        self._lock = threading.Lock()
        self._key: object = None
        self._embedder: Embedder | None = None

    def get(self, key: object, vocab_size: int) -> Embedder:
        with self._lock:
            if self._embedder is None or self._key != key:
                with Store(self.store_path, readonly=True) as store:
                    self._embedder = Embedder(inverse_document_frequency(store, vocab_size))
                self._key = key
            return self._embedder
