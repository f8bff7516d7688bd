"""Segments and parameters in the hypercube (tables of migrations 0003 and 0006).

A segment's arrays live in its own content-addressed file beside the hypercube
(app/store/segfiles.py), which its ``model_segments`` row names with its size and header
checksum. Loading maps the files read-only: nothing is copied, so start-up takes the same
time whatever the corpus's size, and only the pages queries touch become resident. Loading
verifies each file's size and header (constant time) and refuses a truncated, replaced or
damaged-header file; ``hypercube db check`` verifies every array's checksum.

A hypercube still at schema 5 (opened read-only, so never migrated) keeps its arrays as blobs
in ``model_segment_arrays``; those are loaded, and checksummed, as before.
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
from app.store.segfiles import (
    db_path_of,
    has_segment_files,
    map_segment_file,
    segments_dir,
    write_segment_file,
)

_ARRAYS = ("r", "sa", "nxt", "first", "rowkey", "rowoff", "rowtok", "rowcnt", "unigram")
# The dtype of each array, as build_segment makes it.
DTYPES: dict[str, np.dtype] = {
          "r": np.dtype(np.uint32), "sa": np.dtype(np.int32), "nxt": np.dtype(np.uint32),
          "first": np.dtype(np.int32), "rowkey": np.dtype(np.int64),
          "rowoff": np.dtype(np.int64), "rowtok": np.dtype(np.uint32),
          "rowcnt": np.dtype(np.uint32), "unigram": np.dtype(np.int64)}


@dataclass(frozen=True)
class StoredParams:
    params: ModelParams
    fitted: float
    corpus_tokens: int
    heldout_tokens: int
    heldout_bits_per_token: float | None


def save_segment(conn: apsw.Connection, segment: Segment, content_hashes: list[str]) -> int:
    """Write a segment's file and insert its row and document list (inside the caller's
    write transaction: the file is durable before the row that references it commits)."""
    written = write_segment_file(segments_dir(db_path_of(conn)),
                                 {name: getattr(segment, name) for name in _ARRAYS})
    conn.execute(
        "INSERT INTO model_segments(created, vocab_size, kmax, thresh, stream_length, tokens,"
        " documents, file, file_bytes, header_checksum) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (time.time(), segment.vocab_size, KMAX, THRESH, segment.n, segment.tokens,
         len(segment.doc_ids), written.name, written.size, written.header_checksum),
    )
    segment_id = conn.last_insert_rowid()
    conn.executemany(
        "INSERT INTO model_segment_docs(doc_id, segment_id, content_hash) VALUES(?, ?, ?)",
        [(int(d), segment_id, h) for d, h in zip(segment.doc_ids.tolist(), content_hashes,
                                                 strict=True)],
    )
    return segment_id


def delete_segments(conn: apsw.Connection, segment_ids: list[int]) -> None:
    """Delete segments' rows; their files are collected once this commits
    (app.store.segfiles.collect_garbage)."""
    conn.executemany("DELETE FROM model_segments WHERE id = ?", [(i,) for i in segment_ids])


def load_segments(conn: apsw.Connection, vocab_size: int) -> list[Segment]:
    """Every stored segment built for this vocabulary, KMAX and THRESH, in id order, its
    arrays mapped read-only from its file.

    Raises:
        StoreCorrupt: a segment file is truncated or has a damaged header (or, in a
            schema-5 hypercube, an array does not match its checksum).
        SegmentFileMissing: a segment's file is not there.
    """
    if not has_segment_files(conn):
        return _load_blob_segments(conn, vocab_size)
    folder = segments_dir(db_path_of(conn))
    segments: list[Segment] = []
    for segment_id, name, size, header_checksum in cast(
            list[tuple[int, str | None, int | None, bytes | None]], conn.execute(
                "SELECT id, file, file_bytes, header_checksum FROM model_segments"
                " WHERE vocab_size = ? AND kmax = ? AND thresh = ? ORDER BY id",
                (vocab_size, KMAX, THRESH)).fetchall()):
        if name is None or size is None or header_checksum is None:
            raise StoreCorrupt(f"the hypercube is damaged: model segment {segment_id} names "
                               "no file; `hypercube db repair` rebuilds it")
        try:
            arrays = map_segment_file(folder, segment_id, name, size, header_checksum, DTYPES)
        except FileNotFoundError:
            raise SegmentFileMissing(segment_id, folder / name) from None
        segments.append(_segment(conn, segment_id, vocab_size, arrays))
    return segments


class SegmentFileMissing(StoreCorrupt):
    """A segment's file is not there: lost, or collected because a writer in another process
    dropped the segment after this read began (the loader tells which, see
    app/model/loading.py)."""

    def __init__(self, segment_id: int, path: object) -> None:
        super().__init__(
            f"the hypercube is damaged: model segment {segment_id} file {path} is missing, "
            "so the model is not loaded; `hypercube db repair` rebuilds it from the documents")
        self.segment_id = segment_id


def _segment(conn: apsw.Connection, segment_id: int, vocab_size: int,
             arrays: dict[str, np.ndarray]) -> Segment:
    docs = np.array([d for d, in conn.execute(
        "SELECT doc_id FROM model_segment_docs WHERE segment_id = ? ORDER BY doc_id",
        (segment_id,))], dtype=np.int64)
    return Segment(
        vocab_size=vocab_size, r=arrays["r"], sa=arrays["sa"], nxt=arrays["nxt"],
        first=arrays["first"], rowkey=arrays["rowkey"], rowoff=arrays["rowoff"],
        rowtok=arrays["rowtok"], rowcnt=arrays["rowcnt"], unigram=arrays["unigram"],
        doc_ids=docs)


def _load_blob_segments(conn: apsw.Connection, vocab_size: int) -> list[Segment]:
    """Segments of a schema-5 hypercube: blobs copied out and checksummed."""
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
            array = np.frombuffer(data, dtype=np.dtype(dtype))
            arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=False)
        segments.append(_segment(conn, segment_id, vocab_size, arrays))
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
