"""Fingerprints of code shape for clone detection and cross-language similarity.

A file's syntax tree is flattened in pre-order into *normalised node kinds* (``function``,
``params``, ``id``, ``call``, ``+`` …, the same codes for every language, see
``LanguageSpec.normalized``); punctuation, comments and wrapper nodes are dropped, and every
identifier and literal becomes its kind, so a renamed copy gives the identical stream. Each
definition's stream is cut into overlapping k-grams (shingles), and the set of shingles is
summarised by a 64-value MinHash signature (8 bits a value): the share of equal values
between two signatures estimates the Jaccard similarity of their shingle sets. A hash of the
whole stream (the *shape*) identifies exact structural clones.
"""

from __future__ import annotations

import hashlib

import numpy as np
import tree_sitter as ts

SHINGLE = 4
SIGNATURE_SIZE = 64
# Definitions with fewer shingles than this get no signature: tiny bodies match everything.
MIN_SHINGLES = 6
_CHUNK = 8192



def _splitmix64(count: int, seed: int) -> list[int]:
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        out.append(z ^ (z >> 31))
    return out


# Odd multipliers and offsets of the 64 multiply-shift hash functions: fixed constants (a
# seeded splitmix64 sequence, not a library RNG whose stream may change), so signatures
# stored by one version stay comparable with the next.
_MULTIPLIERS = np.array([v | 1 for v in _splitmix64(SIGNATURE_SIZE, 1)], dtype=np.uint64)
_OFFSETS = np.array(_splitmix64(SIGNATURE_SIZE, 2), dtype=np.uint64)
_PRIME = np.uint64(0x100000001B3)


def node_stream(root: ts.Node, table: np.ndarray, pruned: frozenset[int] = frozenset(),
                shaped: frozenset[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normalised kind codes of the subtree's nodes in pre-order, with each one's start byte;
    subtrees of ``pruned`` kinds are skipped whole. ``shaped`` is the kinds with a code
    (:func:`shaped_kinds` of ``table``; computed here when not given)."""
    if shaped is None:
        shaped = shaped_kinds(table)
    kinds: list[int] = []
    starts: list[int] = []
    add_kind, add_start = kinds.append, starts.append  # bound once: this loop is the hot path
    cursor = root.walk()
    first_child, next_sibling, parent = (cursor.goto_first_child, cursor.goto_next_sibling,
                                         cursor.goto_parent)
    while True:
        # The binding types .node as Node | None (None for a cursor on no node); a cursor
        # walked from a root always stands on one, and a check would cost on the hot path.
        node = cursor.node
        kind = node.kind_id  # type: ignore[union-attr]
        if kind not in pruned:
            # Nodes without a code (punctuation, wrappers: about half) are dropped here,
            # before their start is read.
            if kind in shaped:
                add_kind(kind)
                add_start(node.start_byte)  # type: ignore[union-attr]
            if first_child():
                continue
        while not next_sibling():
            if not parent():
                codes = table[np.asarray(kinds, dtype=np.int64)]
                return codes, np.asarray(starts, dtype=np.int64)


def shaped_kinds(table: np.ndarray) -> frozenset[int]:
    """The node kind ids with a normalised code. ERROR nodes carry the id 65535, past the
    grammar's own kinds, so they are never among them."""
    return frozenset(np.flatnonzero(table).tolist())


def shingle_hashes(codes: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every k-gram of ``codes`` (length ``len(codes) - SHINGLE + 1``)."""
    n = len(codes) - SHINGLE + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    values = codes.astype(np.uint64)
    with np.errstate(over="ignore"):
        h = np.full(n, np.uint64(0xCBF29CE484222325))
        for i in range(SHINGLE):
            h = (h ^ values[i:i + n]) * _PRIME
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return h


def minhash(hashes: np.ndarray) -> np.ndarray:
    """The 64-value MinHash signature of a set of shingle hashes, 8 bits a value.

    Keeping only the top byte of each minimum (b-bit MinHash) makes unrelated signatures
    agree by chance on 1/256 of values; :func:`similarity` corrects for that.
    """
    lowest = np.full(SIGNATURE_SIZE, np.iinfo(np.uint64).max, dtype=np.uint64)
    # In chunks, so a huge class never needs a (shingles × 64) matrix at once.
    for start in range(0, len(hashes), _CHUNK):
        with np.errstate(over="ignore"):
            mixed = hashes[start:start + _CHUNK, None] * _MULTIPLIERS[None, :] \
                + _OFFSETS[None, :]
        np.minimum(lowest, mixed.min(axis=0), out=lowest)
    return (lowest >> np.uint64(56)).astype(np.uint8)


def shape_hash(codes: np.ndarray) -> int:
    """A 63-bit hash of a whole normalised stream: equal for exact structural clones."""
    digest = hashlib.blake2b(codes.astype("<i4").tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


_CHANCE = 1.0 / 256.0


def similarity(query: np.ndarray, signatures: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of one signature against rows of many."""
    agree = (signatures == query[None, :]).mean(axis=1)
    return np.clip((agree - _CHANCE) / (1.0 - _CHANCE), 0.0, 1.0)
