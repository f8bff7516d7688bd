"""Consistent copies of a hypercube file, made with SQLite's online backup API.

Copying the file's bytes (``shutil.copyfile``) is not a copy of the database: in WAL mode
recent commits live in the ``-wal`` file until a checkpoint folds them in, and a writer may
be mid-checkpoint while the bytes are read. The backup API copies the pages of one committed
snapshot, WAL included, whatever other connections are doing.
"""

from __future__ import annotations

import os
from pathlib import Path

import apsw

from app.errors import StoreError, StoreFull


def copy_hypercube(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Write a consistent copy of ``source`` to ``target`` (replaced if it exists), as one
    self-contained file (rollback journal mode, no ``-wal`` beside it)."""
    source, target = Path(source), Path(target)
    for leftover in (target, target.with_name(target.name + "-wal"),
                     target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    try:
        src = apsw.Connection(str(source), flags=apsw.SQLITE_OPEN_READONLY)
        dst = apsw.Connection(str(target))
        try:
            src.set_busy_timeout(10_000)
            with dst.backup("main", src, "main") as backup:
                # All pages in one step, so in one read transaction: in WAL mode it blocks no
                # writer, while a copy in several steps starts over whenever another
                # connection commits between them (on a busy server, possibly forever).
                backup.step(-1)
            # A rollback journal: the copy opens read-only with nothing beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
            src.close()
    except apsw.FullError as exc:
        raise StoreFull(f"cannot write {target}: the disk is full (free some space and "
                        "retry)") from exc
    except apsw.Error as exc:
        raise StoreError(f"cannot copy {source} to {target}: {exc}") from exc
