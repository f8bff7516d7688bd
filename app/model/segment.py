"""A segment: the ∞-gram index of one set of documents.

The documents' token streams are joined with a separator (``SEP = V``, never predicted) and
reversed, and the suffix array of that reversed stream sorts every position by the context
that *ends* there, newest token first. So the positions that follow a context form one range
of the array, adding an older token of context narrows it to a nested range, and the tokens
that followed are the ``nxt`` symbols in that range (the Burrows–Wheeler transform).

Counting a large range on every query would be slow, so every range of more than
``THRESH`` positions (at any context order up to ``KMAX``) has its next-token counts
precomputed in ``rows``, keyed by ``lo << 32 | hi``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydivsufsort import divsufsort

# Longest context order the model uses. Longer matches add nothing measurable and would
# make the stored rows and the per-token narrowing longer.
KMAX = 64
# Ranges up to this size are counted on the fly (a few hundred sequential reads cost less
# than a row lookup); larger ones are precomputed.
THRESH = 256


@dataclass
class Segment:
    """The arrays of one segment (all C-contiguous, ready to hand to the kernels)."""

    vocab_size: int
    r: np.ndarray        # uint32[n] reversed stream
    sa: np.ndarray       # int32[n]
    nxt: np.ndarray      # uint32[n]
    first: np.ndarray    # int32[V + 2]
    rowkey: np.ndarray   # int64[rows]
    rowoff: np.ndarray   # int64[rows + 1]
    rowtok: np.ndarray   # uint32[...]
    rowcnt: np.ndarray   # uint32[...]
    unigram: np.ndarray  # int64[V] token counts
    doc_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Each count of this segment counts this many times (exactly as if its documents were
    # indexed that often); only project context uses more than 1, and it is never stored.
    weight: int = 1
    # The language family of its documents (app/model/families.py), None if unknown or
    # mixed (segments built outside the stored model: fitting, project context).
    family: str | None = None

    @property
    def n(self) -> int:
        return len(self.r)

    @property
    def tokens(self) -> int:
        return int(self.unigram.sum())

    def kernel_view(self) -> dict[str, np.ndarray | int]:
        """The segment's row of the kernels' segment table (jit.layout SEGMENT)."""
        return {"N": self.n, "R": self.r, "SA": self.sa, "NXT": self.nxt, "FIRST": self.first,
                "NROWS": len(self.rowkey), "ROWKEY": self.rowkey, "ROWOFF": self.rowoff,
                "ROWTOK": self.rowtok, "ROWCNT": self.rowcnt, "WEIGHT": self.weight}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.r, self.sa, self.nxt, self.first, self.rowkey,
                                      self.rowoff, self.rowtok, self.rowcnt, self.unigram))


def join_documents(streams: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    """SEP d1 SEP d2 … SEP dm SEP as uint32."""
    sep = np.array([vocab_size], dtype=np.uint32)
    parts: list[np.ndarray] = [sep]
    for stream in streams:
        parts.append(np.asarray(stream, dtype=np.uint32))
        parts.append(sep)
    return np.concatenate(parts)


def build_segment(streams: Sequence[np.ndarray], vocab_size: int,
                  doc_ids: Sequence[int] = (), *, thresh: int = THRESH,
                  kmax: int = KMAX) -> Segment:
    """Index the documents' token streams (each a uint16/uint32 array of ids < V)."""
    sep = vocab_size
    stream = join_documents(streams, vocab_size)
    if len(stream) >= 2**31:
        raise ValueError("a segment holds fewer than 2**31 tokens; split the documents")
    r = np.ascontiguousarray(stream[::-1])
    sa = np.ascontiguousarray(divsufsort(r).astype(np.int32))
    before = sa.astype(np.int64) - 1
    nxt = np.where(before >= 0, r[np.maximum(before, 0)], sep).astype(np.uint32)
    heads = r[sa]
    first = np.searchsorted(heads, np.arange(vocab_size + 2), side="left").astype(np.int32)
    rowkey, rowoff, rowtok, rowcnt = _rows(r, sa, nxt, heads, sep, thresh, kmax)
    unigram = np.bincount(nxt[nxt != sep], minlength=vocab_size)[:vocab_size].astype(np.int64)
    return Segment(vocab_size, r, sa, nxt, first, rowkey, rowoff, rowtok, rowcnt, unigram,
                   np.asarray(doc_ids, dtype=np.int64))


def _rows(r: np.ndarray, sa: np.ndarray, nxt: np.ndarray, heads: np.ndarray, sep: int,
          thresh: int, kmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Next-token counts of every context range larger than ``thresh``, order by order.

    Only the positions inside large ranges are carried to the next order (a small range
    only has small sub-ranges), so the work shrinks quickly with the order.
    """
    n = len(r)
    width = sep + 1
    xs = np.arange(n, dtype=np.int64)          # active SA indices, ascending
    gid = np.zeros(n, dtype=np.int64)          # their group at the previous order
    parent_size = np.array([n], dtype=np.int64)
    found_lo: list[np.ndarray] = []
    found_hi: list[np.ndarray] = []
    for k in range(1, kmax + 1):
        if k == 1:
            key = heads.astype(np.int64)
        else:
            pos = sa[xs].astype(np.int64) + (k - 1)
            key = np.where(pos < n, r[np.minimum(pos, n - 1)].astype(np.int64), -1)
        starts_mask = np.ones(len(xs), dtype=bool)
        starts_mask[1:] = (gid[1:] != gid[:-1]) | (key[1:] != key[:-1])
        starts = np.flatnonzero(starts_mask)
        sizes = np.diff(np.append(starts, len(xs)))
        big = sizes > thresh
        if not big.any():
            break
        lo = xs[starts[big]]
        size = sizes[big]
        # A range equal to its parent's is the same row already stored.
        new = size != parent_size[gid[starts[big]]]
        found_lo.append(lo[new])
        found_hi.append(lo[new] + size[new])
        keep = np.repeat(big, sizes)
        xs = xs[keep]
        gid = np.repeat(np.arange(len(size), dtype=np.int64), size)
        parent_size = size
    if not found_lo:
        empty64 = np.zeros(0, dtype=np.int64)
        return empty64, np.zeros(1, dtype=np.int64), np.zeros(0, np.uint32), np.zeros(0, np.uint32)
    lo = np.concatenate(found_lo)
    hi = np.concatenate(found_hi)
    order = np.argsort((lo << 32) | hi, kind="stable")
    lo, hi = lo[order], hi[order]
    rowkey = (lo << 32) | hi
    tokens_parts: list[np.ndarray] = []
    counts_parts: list[np.ndarray] = []
    lengths = np.zeros(len(lo), dtype=np.int64)
    # Rows are counted in batches so the temporary (row, token) keys stay small: a few
    # int64 arrays of this many entries (~16 MB each) at a time.
    batch_limit = 1 << 21
    start = 0
    while start < len(lo):
        spans = hi[start:] - lo[start:]
        stop = start + max(1, int(np.searchsorted(np.cumsum(spans), batch_limit)))
        stop = min(stop, len(lo))
        span = hi[start:stop] - lo[start:stop]
        owner = np.repeat(np.arange(start, stop, dtype=np.int64), span)
        offsets = np.arange(int(span.sum()), dtype=np.int64) - np.repeat(np.cumsum(span) - span,
                                                                         span)
        symbols = nxt[np.repeat(lo[start:stop], span) + offsets].astype(np.int64)
        real = symbols != sep
        keys, counts = np.unique(owner[real] * width + symbols[real], return_counts=True)
        rows_of = keys // width
        tokens_parts.append((keys % width).astype(np.uint32))
        counts_parts.append(counts.astype(np.uint32))
        lengths[start:stop] = np.bincount(rows_of - start, minlength=stop - start)
        start = stop
    rowoff = np.zeros(len(lo) + 1, dtype=np.int64)
    np.cumsum(lengths, out=rowoff[1:])
    return (rowkey, rowoff, np.concatenate(tokens_parts), np.concatenate(counts_parts))
