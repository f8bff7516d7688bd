"""The hypercube file: one APSW connection to one SQLite database in WAL mode.

Everything that reads or writes the hypercube goes through :class:`Store`. Opening a store
migrates it; writes happen inside :meth:`Store.write` (``BEGIN IMMEDIATE`` so two writers
queue instead of failing half-way); reads that must see one consistent snapshot use
:meth:`Store.snapshot`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw

from app.errors import StoreError, StoreLocked
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
        flags = apsw.SQLITE_OPEN_READONLY if readonly else (
            apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        )
        try:
            self.conn = apsw.Connection(str(self.path), flags=flags)
            self.conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable against process crashes in WAL mode; only a power cut
                # can lose the last commits, never consistency.
                self.conn.execute("PRAGMA synchronous = NORMAL")
                migrate(self.conn)
        except apsw.BusyError as exc:
            raise StoreLocked(f"{self.path} is locked by another process") from exc
        except apsw.Error as exc:
            raise StoreError(f"cannot open hypercube {self.path}: {exc}") from exc

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
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

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
