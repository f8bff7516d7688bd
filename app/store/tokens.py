"""The stored form of a document's token stream (``document_tokens.tokens``).

Little-endian uint16, one per token: vocabularies are capped at 65,536 tokens, and two
bytes a token keep the sequence relation — what every model statistic is derived from — at
a third of the document's UTF-8 size. Every reader and writer goes through these two
functions, so the format is stated once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DTYPE = np.dtype("<u2")


def pack_tokens(ids: Sequence[int] | np.ndarray) -> bytes:
    """A token stream as stored (ids must be < 65,536: the vocabulary's cap)."""
    return np.asarray(ids).astype(DTYPE, copy=False).tobytes()


def unpack_tokens(blob: bytes, dtype: np.dtype | type = np.uint32) -> np.ndarray:
    """A stored token stream as an array of ``dtype`` (uint32 for the model's kernels; pass
    ``DTYPE`` for a zero-copy, read-only view)."""
    view = np.frombuffer(blob, dtype=DTYPE)
    return view if np.dtype(dtype) == DTYPE else view.astype(dtype)
