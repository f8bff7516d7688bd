"""Typed reads of the rows whose column types the query itself fixes.

SQLite values are dynamically typed, so APSW types every column it returns as
``SQLiteValue`` (None, int, float, bytes or str). A ``COUNT``, a ``PRAGMA`` or a
``COALESCE(MAX(id), 0)`` always answers exactly one row of integers: :func:`integers` and
:func:`integer` read it (and :func:`number` one int or float) and check that it is one, so
callers get a number rather than a value they would have to narrow at every use.
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


def number(conn: apsw.Connection, sql: str, bindings: apsw.Bindings | None = None) -> float:
    """The single number that ``sql`` answers (an aggregate over a REAL column, say: an
    integer when it falls back to ``COALESCE(..., 0)``)."""
    row = conn.execute(sql, bindings).fetchone()
    if row is None or len(row) != 1 or not isinstance(row[0], int | float):
        raise StoreError(f"expected one number from {sql!r}, got {row!r}")
    return row[0]
