"""The packed form of reference sites stored in ``code_refs.sites``.

Sites are rows of (line, column, enclosing) — see the schema. Almost every file fits them in
16 bits each, so a blob is one format byte (``H``: uint16, ``i``: int32) followed by the rows
little-endian: 6 bytes a site instead of 12.
"""

from __future__ import annotations

import numpy as np

_FORMATS: dict[int, np.dtype] = {b"H"[0]: np.dtype("<u2"), b"i"[0]: np.dtype("<i4")}

# code_refs.kind: what a use of a name is.
REFERENCE_KINDS = ("reference", "call", "type")
KIND_CODE = {kind: code for code, kind in enumerate(REFERENCE_KINDS)}
CALL = KIND_CODE["call"]


def fits_narrow(sites: np.ndarray) -> bool:
    """Whether every value fits the 16-bit form (decide once per file: it is the slow part)."""
    return not len(sites) or (int(sites.max()) < 65536 and int(sites.min()) >= 0)


def pack_sites(sites: np.ndarray, narrow: bool | None = None) -> bytes:
    if narrow if narrow is not None else fits_narrow(sites):
        return b"H" + sites.astype("<u2").tobytes()
    return b"i" + sites.astype("<i4").tobytes()


def unpack_sites(blob: bytes) -> np.ndarray:
    """The (n, 3) int64 array of (line, column, enclosing) rows."""
    dtype = _FORMATS[blob[0]]
    return np.frombuffer(blob, dtype=dtype, offset=1).astype(np.int64).reshape(-1, 3)
