"""A hypercube file's whole stored content in a canonical form, to compare two files.

Every table's rows (row ids included), sorted, minus the columns that say *when* something
was written: two ingests of the same files build equal dumps exactly when they stored the
same documents, token streams, code facts, relations, compositions and model.
"""

from __future__ import annotations

from pathlib import Path

from app.store import Store

# Wall-clock columns: the only ones two equal ingests may differ in.
TIMESTAMPS = {
    "documents": {"ingested"},
    "runs": {"started", "finished"},
    "model_segments": {"created"},
    "model_params": {"fitted"},
}
# FTS5 keeps its index in shadow tables; the virtual table's own rows are compared instead.
FTS_SHADOW_SUFFIXES = ("_config", "_data", "_docsize", "_idx", "_content")


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Table name → its rows (without timestamp columns), sorted."""
    with Store(db) as store:
        q = store.conn.execute
        tables = [name for (name,) in q(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name")]
        virtual = {name for (name,) in q(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'")}
        result: dict[str, list[tuple[object, ...]]] = {}
        for table in tables:
            if any(table == f"{v}{suffix}" for v in virtual for suffix in FTS_SHADOW_SUFFIXES):
                continue
            if table in virtual:
                rows = q(f"SELECT rowid, * FROM {table}").fetchall()
            else:
                columns = [c for (_, c, *_rest) in q(f"PRAGMA table_info({table})")
                           if c not in TIMESTAMPS.get(table, set())]
                rows = q(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            result[table] = sorted(rows, key=repr)
        return result
