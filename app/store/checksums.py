"""Checksums of the blobs the hypercube stores (migration 0005).

SQLite's ``integrity_check`` verifies pages and indexes, not what a blob holds: a flipped bit
inside a model array passes it. Every blob column therefore has a ``checksum`` beside it, the
16-byte BLAKE2b of the blob, written with it and verified where it is read (everything by
``hypercube db check``). Model segments left SQLite for files in migration 0006; their arrays'
checksums are in each file's header (app/store/segfiles.py), verified here too.

The same function is registered on every connection as the SQL function ``blob_checksum(x)``,
so migration 0005 computes the checksums of an existing file in SQL, and the triggers it adds
fill them for writers that leave them out.
"""

from __future__ import annotations

import hashlib
from typing import cast

import apsw

from app.store.segfiles import db_path_of, has_segment_files, segments_dir, verify_segment_file

DIGEST_BYTES = 16

# Every checksummed blob: its table, and a query of (what to call it, blob, checksum). A NULL
# blob (code_fingerprints' minhash of a tiny definition) has a NULL checksum.
CHECKSUMMED = {
    "document_tokens": "SELECT 'the token stream of document ' || t.doc_id || ' (' || "
                       "COALESCE(d.path, '?') || ')', t.tokens, t.checksum "
                       "FROM document_tokens t LEFT JOIN documents d ON d.id = t.doc_id",
    "api_files": "SELECT 'uploaded file ' || id, content, checksum FROM api_files",
    "code_refs": "SELECT 'the code references row ' || id || ' of document ' || doc_id, sites,"
                 " checksum FROM code_refs",
    "code_fingerprints": "SELECT 'the code fingerprint of symbol ' || symbol_id, minhash,"
                         " checksum FROM code_fingerprints",
}

# Model arrays as blobs: a schema-5 hypercube (opened read-only, so not migrated) only.
LEGACY_CHECKSUMMED = {
    "model_segment_arrays": "SELECT 'model segment ' || segment_id || ' array ' || name, data,"
                            " checksum FROM model_segment_arrays",
}


def blob_checksum(data: bytes | memoryview | None) -> bytes | None:
    if data is None:
        return None
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def _sql_blob_checksum(*args: apsw.SQLiteValue) -> bytes | None:
    """``blob_checksum(x)`` as SQL calls it: SQL may pass any value, only a BLOB (or NULL)
    has a checksum (hashlib refused the others before this check too)."""
    data = args[0]
    if isinstance(data, int | float | str):
        raise TypeError(f"blob_checksum() takes a BLOB, not {type(data).__name__}")
    return blob_checksum(None if data is None else memoryview(data))


def register(conn: apsw.Connection) -> None:
    """Make ``blob_checksum()`` callable from SQL on ``conn`` (the migration and triggers)."""
    conn.create_scalar_function("blob_checksum", _sql_blob_checksum, 1, deterministic=True)


def damaged_blobs(conn: apsw.Connection) -> list[str]:
    """What is wrong with every stored blob whose checksum is missing or does not match, and
    with every model segment file (reading all of each)."""
    found: list[str] = []
    queries = list(CHECKSUMMED.values())
    if not has_segment_files(conn):
        queries += LEGACY_CHECKSUMMED.values()
    for query in queries:
        for label, data, stored in conn.execute(query):
            if data is None:
                continue
            if stored is None:
                found.append(f"{label} has no checksum")
            elif blob_checksum(data) != stored:
                found.append(f"{label} does not match its checksum: the file is damaged")
    for problems in segment_file_problems(conn).values():
        found += problems
    return found


def damaged_segments(conn: apsw.Connection) -> list[int]:
    """The model segments with an array that is damaged (or has no checksum), or whose file
    is missing, truncated or damaged."""
    if not has_segment_files(conn):
        return sorted({segment_id for segment_id, data, stored in conn.execute(
            "SELECT segment_id, data, checksum FROM model_segment_arrays")
            if stored is None or blob_checksum(data) != stored})
    return sorted(segment_file_problems(conn))


def segment_file_problems(conn: apsw.Connection) -> dict[int, list[str]]:
    """Each segment whose file is not intact, with what is wrong (empty before schema 6)."""
    if not has_segment_files(conn):
        return {}
    folder = segments_dir(db_path_of(conn))
    found: dict[int, list[str]] = {}
    rows = cast(list[tuple[int, str | None, int | None, bytes | None]], conn.execute(
        "SELECT id, file, file_bytes, header_checksum FROM model_segments ORDER BY id"
    ).fetchall())
    for segment_id, name, size, header in rows:
        if name is None or size is None or header is None:
            problems = [f"model segment {segment_id} names no file"]
        else:
            problems = verify_segment_file(folder, segment_id, name, size, header)
        if problems:
            found[segment_id] = problems
    return found
