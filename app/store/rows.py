"""Typed reads of the rows whose column types the query itself fixes.

SQLite values are dynamically typed, so APSW types every column it returns as
``SQLiteValue`` (None, int, float, bytes or str). A ``COUNT``, a ``PRAGMA`` or a
``COALESCE(MAX(...), 0)`` always answers exactly one row of integers: :func:`integers` and
:func:`integer` read it and check that it is one, so callers get ``int`` rather than a value
they would have to narrow at every use.
"""

from __future__ import annotations

import apsw

from app.errors import StoreError


def integers(conn: apsw.Connection, sql: str, bindings: apsw.Bindings | None = None,
             ) -> tuple[int, ...]:
    """The one row of integers that ``sql`` answers."""
    row = conn.execute(sql, bindings).fetchone()
    values = () if row is None else tuple(v for v in row if isinstance(v, int))
    if row is None or len(values) != len(row):
        raise StoreError(f"expected one row of integers from {sql!r}, got {row!r}")
    return values


def integer(conn: apsw.Connection, sql: str, bindings: apsw.Bindings | None = None) -> int:
    """The single integer that ``sql`` answers (a count, a pragma, an aggregate)."""
    first, = integers(conn, sql, bindings)
    return first
