"""The hypercube file: one APSW connection to one SQLite database in WAL mode.

Everything that reads or writes the hypercube goes through :class:`Store`. Opening a store
migrates it; writes happen inside :meth:`Store.write` (``BEGIN IMMEDIATE`` so two writers
queue instead of failing half-way); reads that must see one consistent snapshot use
:meth:`Store.snapshot`. A full disk surfaces as :class:`~app.errors.StoreFull` with
the transaction rolled back, never as a raw APSW error.

:meth:`Store.for_reading` opens a file that may not be writable (a read-only file, folder or
mount) for the commands that only read: see :func:`_readonly_uri` for how.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw

from app.errors import StoreError, StoreFull, StoreLocked
from app.store import checksums
from app.store.runs import interrupt_dead_runs
from app.store.schema import migrate

_BUSY_TIMEOUT_MS = 10_000


class Store:
    """An open hypercube file."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly and not self.path.exists():
            raise StoreError(f"no hypercube at {self.path}")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                self.conn = apsw.Connection(_readonly_uri(self.path), flags=(
                    apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI))
            else:
                self.conn = apsw.Connection(str(self.path), flags=(
                    apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE))
            self.conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
            checksums.register(self.conn)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable against process crashes in WAL mode; only a power cut
                # can lose the last commits, never consistency.
                self.conn.execute("PRAGMA synchronous = NORMAL")
                migrate(self.conn)
                interrupt_dead_runs(self.conn, self.path)
        except apsw.BusyError as exc:
            raise StoreLocked(f"{self.path} is locked by another process") from exc
        except apsw.FullError as exc:
            raise StoreFull(_full_message(self.path)) from exc
        except apsw.Error as exc:
            raise StoreError(f"cannot open hypercube {self.path}: {exc}") from exc

    @classmethod
    def for_reading(cls, path: str | os.PathLike[str]) -> Store:
        """The store for a command that only reads: writable where it can be (so an old file
        is migrated and dead runs are marked as usual), read-only where the file or its
        folder is not writable."""
        path = Path(path)
        return cls(path, readonly=not writable(path))

    # -- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[apsw.Connection]:
        """One write transaction; rolled back whole on any exception (or kill)."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except apsw.BusyError as exc:
                raise StoreLocked(f"{self.path} is busy: another process is writing") from exc
            try:
                try:
                    yield self.conn
                except BaseException:
                    # SQLite has already rolled back after some errors (SQLITE_FULL among
                    # them); a second ROLLBACK would raise and hide the real error.
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                try:
                    self.conn.execute("COMMIT")
                except apsw.Error:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            except apsw.FullError as exc:
                raise StoreFull(_full_message(self.path)) from exc

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[apsw.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        with self._lock:
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    # -- small helpers ------------------------------------------------------------------

    def scalar(self, sql: str, bindings: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(sql, bindings).fetchone()
        return None if row is None else row[0]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if value is None else value

    def set_meta(self, conn: apsw.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def schema_version(self) -> int:
        return int(self.scalar("PRAGMA user_version"))

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def writable(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file (if it exists) and its folder, where the
    journal files live."""
    folder_ok = os.access(path.parent if str(path.parent) else Path("."), os.W_OK)
    return folder_ok and (not path.exists() or os.access(path, os.W_OK))


def _readonly_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only even where nothing can be written beside it.

    A WAL database is read through its ``-shm`` index, which the first reader creates. Where
    the folder is writable (or the ``-shm`` and ``-wal`` files already exist) ``mode=ro``
    works and still sees other processes' commits. In a read-only folder without them,
    SQLite cannot create the index and fails with "unable to open database file"; there
    ``immutable=1`` tells it the file cannot change, so it reads the main file alone. That is
    exact: without a ``-wal`` file every commit is in the main file (the last writer
    checkpointed and removed it), and no one can write through a folder that is read-only.
    """
    uri = path.resolve().as_uri()
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    if writable(path.with_name(path.name + "-shm")) or (wal.exists() and shm.exists()):
        return f"{uri}?mode=ro"
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(f"cannot read {path}: its write-ahead log {wal.name} holds commits "
                         f"that SQLite can only read through {shm.name}, which cannot be "
                         "created in this read-only folder; open it once where it is writable")
    return f"{uri}?immutable=1"


def _full_message(path: Path) -> str:
    # The wording of app.errors.store_error, with the file named; nothing was written.
    return f"cannot write {path}: the disk is full (free some space and retry)"
