"""Segments and parameters in the hypercube file (tables of migration 0003).

Arrays are stored as raw little-endian blobs and come back with ``np.frombuffer``: loading
a model copies bytes once and computes nothing but each array's checksum (migration 0005), so
a damaged file is refused instead of answering from a corrupted model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

import apsw
import numpy as np

from app.errors import StoreCorrupt
from app.model.params import ModelParams
from app.model.segment import KMAX, THRESH, Segment
from app.store.checksums import blob_checksum

_ARRAYS = ("r", "sa", "nxt", "first", "rowkey", "rowoff", "rowtok", "rowcnt", "unigram")


@dataclass(frozen=True)
class StoredParams:
    params: ModelParams
    fitted: float
    corpus_tokens: int
    heldout_tokens: int
    heldout_bits_per_token: float | None


def save_segment(conn: apsw.Connection, segment: Segment, content_hashes: list[str]) -> int:
    """Insert a segment and its document list (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO model_segments(created, vocab_size, kmax, thresh, stream_length, tokens,"
        " documents) VALUES(?, ?, ?, ?, ?, ?, ?)",
        (time.time(), segment.vocab_size, KMAX, THRESH, segment.n, segment.tokens,
         len(segment.doc_ids)),
    )
    segment_id = conn.last_insert_rowid()
    for name in _ARRAYS:
        array = getattr(segment, name)
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        conn.execute(
            "INSERT INTO model_segment_arrays(segment_id, name, dtype, data, checksum)"
            " VALUES(?, ?, ?, ?, ?)",
            (segment_id, name, array.dtype.newbyteorder("<").str, data, blob_checksum(data)),
        )
    conn.executemany(
        "INSERT INTO model_segment_docs(doc_id, segment_id, content_hash) VALUES(?, ?, ?)",
        [(int(d), segment_id, h) for d, h in zip(segment.doc_ids.tolist(), content_hashes,
                                                 strict=True)],
    )
    return segment_id


def delete_segments(conn: apsw.Connection, segment_ids: list[int]) -> None:
    conn.executemany("DELETE FROM model_segments WHERE id = ?", [(i,) for i in segment_ids])


def load_segments(conn: apsw.Connection, vocab_size: int) -> list[Segment]:
    """Every stored segment built for this vocabulary, KMAX and THRESH, in id order.

    Raises:
        StoreCorrupt: an array does not match its checksum (the file is damaged).
    """
    segments: list[Segment] = []
    for segment_id, in cast(list[tuple[int]], conn.execute(
        "SELECT id FROM model_segments WHERE vocab_size = ? AND kmax = ? AND thresh = ?"
        " ORDER BY id", (vocab_size, KMAX, THRESH),
    ).fetchall()):
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, data, checksum in conn.execute(
            "SELECT name, dtype, data, checksum FROM model_segment_arrays WHERE segment_id = ?",
            (segment_id,),
        ):
            verify_array(segment_id, name, data, checksum)
            # Native byte order for the kernels (a no-op view on little-endian machines).
            array = np.frombuffer(data, dtype=np.dtype(dtype))
            arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=False)
        docs = np.array([d for d, in conn.execute(
            "SELECT doc_id FROM model_segment_docs WHERE segment_id = ? ORDER BY doc_id",
            (segment_id,))], dtype=np.int64)
        segments.append(Segment(
            vocab_size=vocab_size, r=arrays["r"], sa=arrays["sa"], nxt=arrays["nxt"],
            first=arrays["first"], rowkey=arrays["rowkey"], rowoff=arrays["rowoff"],
            rowtok=arrays["rowtok"], rowcnt=arrays["rowcnt"], unigram=arrays["unigram"],
            doc_ids=docs))
    return segments


def verify_array(segment_id: int, name: str, data: bytes, checksum: bytes | None) -> None:
    """Refuse an array that is not what was written (a missing checksum is damage too: every
    array written since migration 0005, and every older one it converted, has one)."""
    if checksum is None or blob_checksum(data) != checksum:
        raise StoreCorrupt(
            f"the hypercube file is damaged: model segment {segment_id} array {name!r} does not "
            "match its checksum, so the model is not loaded; `hypercube db check` lists every "
            "damaged part, and `hypercube db repair` rebuilds damaged model segments from the "
            "documents")


def save_params(conn: apsw.Connection, params: ModelParams, corpus_tokens: int,
                heldout_tokens: int, bits: float | None) -> None:
    conn.execute(
        "INSERT INTO model_params(id, params, fitted, corpus_tokens, heldout_tokens,"
        " heldout_bits_per_token) VALUES(1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " params = excluded.params, fitted = excluded.fitted,"
        " corpus_tokens = excluded.corpus_tokens, heldout_tokens = excluded.heldout_tokens,"
        " heldout_bits_per_token = excluded.heldout_bits_per_token",
        (params.to_json(), time.time(), corpus_tokens, heldout_tokens,
         None if bits is None or bits != bits else bits),
    )


def load_params(conn: apsw.Connection) -> StoredParams | None:
    row = conn.execute(
        "SELECT params, fitted, corpus_tokens, heldout_tokens, heldout_bits_per_token"
        " FROM model_params WHERE id = 1").fetchone()
    if row is None:
        return None
    try:
        params = ModelParams.from_json(row[0])
    except (ValueError, KeyError):
        return None  # written by an older model layout: refit
    return StoredParams(params, row[1], row[2], row[3], row[4])
