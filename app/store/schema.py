"""Numbered, append-only schema migrations recorded in ``PRAGMA user_version``.

Each file ``migrations/NNNN_name.sql`` moves the schema from version NNNN-1 to NNNN. Files are
never edited once released; a change to the schema is a new file. Each migration runs in its
own transaction together with the version bump, so a crash leaves the file at a whole version.

A migration may also have a Python step (:data:`_STEPS`), run after its SQL in the same
transaction, for what SQL cannot do (migration 0006 writes the model's segment files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import apsw

from app.errors import SchemaTooNew, StoreError
from app.store.rows import integer
from app.store.segfiles import move_blobs_to_files

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# The Python step of a migration, by version: run after its SQL, in its transaction.
_STEPS = {6: move_blobs_to_files}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """All shipped migrations in order; numbering must be contiguous from 1."""
    found: list[Migration] = []
    for entry in resources.files("app.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"migration {migration.name} is out of sequence (expected {expected})")
    return found


def latest_version() -> int:
    return len(available_migrations())


def migrate(conn: apsw.Connection) -> int:
    """Bring the schema to the newest version; return the version it was at before."""
    migrations = available_migrations()
    start = integer(conn, "PRAGMA user_version")
    if start > len(migrations):
        raise SchemaTooNew(
            f"this hypercube has schema version {start} but this Hypercube only knows "
            f"{len(migrations)}: upgrade Hypercube to open it"
        )
    for migration in migrations[start:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if integer(conn, "PRAGMA user_version") >= migration.version:
                conn.execute("COMMIT")
                continue
            conn.execute(migration.sql)
            if migration.version in _STEPS:
                _STEPS[migration.version](conn)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start
