"""Consistent copies of a hypercube file, made with SQLite's online backup API.

Copying the file's bytes (``shutil.copyfile``) is not a copy of the database: in WAL mode
recent commits live in the ``-wal`` file until a checkpoint folds them in, and a writer may
be mid-checkpoint while the bytes are read. The backup API copies the pages of one committed
snapshot, WAL included, whatever other connections are doing.

The model's segment files (app/store/segfiles.py) are part of the hypercube: the copy carries
the ones its SQLite file references, copied beside the target after the pages. A writer may
drop a segment of the copied state and collect its file meanwhile; the copy then starts over.
"""

from __future__ import annotations

import os
from pathlib import Path

import apsw

from app.errors import StoreError, StoreFull
from app.store.segfiles import copy_segment_files, referenced_files

_ATTEMPTS = 5


def copy_hypercube(source: str | os.PathLike[str], target: str | os.PathLike[str], *,
                   segments_for: str | os.PathLike[str] | None = None) -> None:
    """Write a consistent copy of ``source`` to ``target`` (replaced if it exists): one
    SQLite file in rollback journal mode (no ``-wal`` beside it) and the segment files it
    references, put beside ``segments_for`` (the name ``target`` will be renamed to with
    app.store.segfiles.move_hypercube; ``target`` itself by default)."""
    source, target = Path(source), Path(target)
    beside = target if segments_for is None else Path(segments_for)
    for attempt in range(_ATTEMPTS):
        _copy_pages(source, target)
        conn = apsw.Connection(str(target), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            names = referenced_files(conn)
        finally:
            conn.close()
        try:
            copy_segment_files(names, source, beside)
            return
        except FileNotFoundError as exc:
            if attempt == _ATTEMPTS - 1:
                raise StoreError(f"cannot copy {source}: segment file {exc.filename} is "
                                 "missing (run `hypercube db check` on it)") from exc
        except OSError as exc:
            raise StoreError(f"cannot copy the segment files of {source} to {beside}: "
                             f"{exc.strerror}") from exc


def _copy_pages(source: Path, target: Path) -> None:
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
