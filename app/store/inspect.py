"""What `hypercube db info` reports and what `hypercube db check` verifies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from app.compositions import ATOM_LIMIT, composition_id
from app.store.checksums import damaged_blobs, damaged_segments
from app.store.database import Store
from app.store.rows import integer
from app.store.schema import latest_version
from app.store.segfiles import collect_garbage
from app.store.tokens import DTYPE, unpack_tokens

# The schema version that added blob checksums (migration 0005).
CHECKSUMS_VERSION = 5

# Tables whose row counts are content: a re-run of the same ingest gives the same numbers.
COUNTED_TABLES = {
    "atoms": "atoms",
    "compositions": "compositions",
    "relations": "relations",
    "documents": "documents",
}


class StoreInfo(TypedDict):
    """What :func:`info` reports (``hypercube db info --json``, ``/v1/hypercube/stats``)."""

    path: str
    schema_version: int
    counts: dict[str, int]
    languages: dict[str, int]
    sizes: dict[str, int]
    runs: int
    last_run: dict[str, object] | None


def info(store: Store) -> StoreInfo:
    """Counts, sizes and schema version; the ``counts`` depend only on the content ingested."""
    with store.snapshot() as conn:
        counts = {
            name: integer(conn, f"SELECT COUNT(*) FROM {table}")
            for name, table in COUNTED_TABLES.items()
        }
        counts["vocabulary"] = integer(conn, "SELECT COUNT(*) FROM vocabulary")
        counts["tokens"] = integer(
            conn, "SELECT COALESCE(SUM(n_tokens), 0) FROM documents")
        counts["document_bytes"] = integer(
            conn, "SELECT COALESCE(SUM(size), 0) FROM documents")
        languages = dict(conn.execute(
            "SELECT language, COUNT(*) FROM documents GROUP BY language ORDER BY language"))
        page_size = integer(conn, "PRAGMA page_size")
        page_count = integer(conn, "PRAGMA page_count")
        freelist = integer(conn, "PRAGMA freelist_count")
        runs = integer(conn, "SELECT COUNT(*) FROM runs")
        last_run = conn.execute(
            "SELECT id, status, started, finished FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    wal = store.path.with_name(store.path.name + "-wal")
    return {
        "path": str(store.path),
        "schema_version": store.schema_version,
        "counts": counts,
        "languages": languages,
        "sizes": {
            "file_bytes": page_size * page_count,
            "free_bytes": page_size * freelist,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        },
        "runs": runs,
        "last_run": None if last_run is None else dict(
            zip(("id", "status", "started", "finished"), last_run, strict=True)),
    }


@dataclass(frozen=True)
class Finding:
    severity: str  # "error": the file breaks an invariant; "note": worth knowing, not broken
    message: str


def check(store: Store) -> list[Finding]:
    """SQLite's own integrity checks plus the hypercube's invariants."""
    findings: list[Finding] = []
    conn = store.conn
    with store.snapshot():
        for (row,) in conn.execute("PRAGMA integrity_check"):
            if row != "ok":
                findings.append(Finding("error", f"sqlite integrity: {row}"))
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            findings.append(Finding("error", f"{table} row {rowid} points at a missing {parent}"))
        if store.schema_version != latest_version():
            findings.append(Finding("error", f"schema version {store.schema_version}, "
                                             f"expected {latest_version()}"))
        findings += _check_compositions(store)
        findings += _check_vocabulary(store)
        findings += _check_documents(store)
        if store.schema_version >= CHECKSUMS_VERSION:
            findings += [Finding("error", problem) for problem in damaged_blobs(conn)]
        for run_id, status in conn.execute(
                "SELECT id, status FROM runs WHERE status IN ('running', 'interrupted')"):
            findings.append(Finding("note", f"ingest run {run_id} was {status}: its whole "
                                            "batches are stored; re-run the ingest to finish"))
    return findings


def _check_compositions(store: Store) -> list[Finding]:
    findings = []
    children: dict[int, list[int]] = {}
    for parent, child in store.conn.execute(
            "SELECT parent, child FROM composition_children ORDER BY parent, position"):
        children.setdefault(parent, []).append(child)
    contents = dict(store.conn.execute("SELECT id, content FROM compositions"))
    for node, tag in store.conn.execute("SELECT id, tag FROM compositions"):
        kids = children.get(node, [])
        if tag == "byte":
            expected_id = composition_id(tag, [contents[node][0]])
            expected_content = contents[node]
        else:
            expected_id = composition_id(tag, kids)
            try:
                expected_content = b"".join(
                    chr(k).encode("utf-8") if k < ATOM_LIMIT else contents[k] for k in kids)
            except KeyError:
                findings.append(Finding("error", f"composition {node} has a missing child"))
                continue
        if expected_id != node:
            findings.append(Finding("error", f"composition {node} does not hash to its id"))
        if expected_content != contents[node]:
            findings.append(Finding("error", f"composition {node} content differs from its "
                                             "children"))
    return findings


def _check_vocabulary(store: Store) -> list[Finding]:
    findings = []
    for token_id, node, kind in store.conn.execute(
            "SELECT token_id, node, kind FROM vocabulary"):
        if kind == "atom":
            exists = store.scalar("SELECT 1 FROM atoms WHERE codepoint = ?", (node,))
        else:
            exists = store.scalar("SELECT 1 FROM compositions WHERE id = ?", (node,))
        if not exists:
            findings.append(Finding("error", f"token {token_id} names a missing {kind} {node}"))
    return findings


def _check_documents(store: Store) -> list[Finding]:
    findings = []
    vocab_size = store.scalar("SELECT COUNT(*) FROM vocabulary") or 0
    for doc_id, n_tokens, blob in store.conn.execute(
            "SELECT d.id, d.n_tokens, t.tokens FROM documents d "
            "LEFT JOIN document_tokens t ON t.doc_id = d.id"):
        if blob is None:
            findings.append(Finding("error", f"document {doc_id} has no token stream"))
            continue
        tokens = unpack_tokens(blob, DTYPE)
        if len(tokens) != n_tokens:
            findings.append(Finding("error", f"document {doc_id} has {len(tokens)} tokens, "
                                             f"records {n_tokens}"))
        if len(tokens) and int(tokens.max()) >= vocab_size:
            findings.append(Finding("error", f"document {doc_id} uses a token outside the "
                                             "vocabulary"))
    orphans = store.scalar("SELECT COUNT(*) FROM document_tokens WHERE doc_id NOT IN "
                           "(SELECT id FROM documents)")
    if orphans:
        findings.append(Finding("error", f"{orphans} token streams belong to no document"))
    return findings


def repair(store: Store) -> list[str]:
    """Drop the model segments whose arrays are damaged; what was done, one line each.

    Segments are derived data: ``hypercube db repair`` (app/model/repair.py) calls this and
    then rebuilds the documents they counted from their (checksummed) token streams. Damage
    to anything else is not repaired here: it is the content itself, and re-ingesting its
    files replaces it.
    """
    with store.write() as conn:
        segments = damaged_segments(conn)
        conn.executemany("DELETE FROM model_segments WHERE id = ?", [(s,) for s in segments])
    with store.write() as conn:
        collect_garbage(conn)  # the damaged files, once no committed row names them
    return [f"dropped damaged model segment {s}" for s in segments]


def vacuum(store: Store) -> tuple[int, int]:
    """Checkpoint the WAL and rebuild the file; returns (bytes before, bytes after)."""
    def size() -> int:
        return int(store.scalar("PRAGMA page_count")) * int(store.scalar("PRAGMA page_size"))

    before = size()
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.conn.execute("VACUUM")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, size()
