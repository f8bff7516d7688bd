"""Reading stored symbols and reference sites back (shared by every query)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import apsw
import numpy as np

from app.code.locate import escape_like
from app.code.packing import REFERENCE_KINDS, unpack_sites
from app.code.results import Symbol

_COLUMNS = (
    "s.id, n.name, s.qualified_name, s.kind, f.language, d.path, s.start_line, s.start_col,"
    " s.end_line, s.end_col, s.name_line, s.name_col, s.signature, s.doc, p.qualified_name,"
    " s.doc_id, s.parent_id"
)
_FROM = (
    " FROM code_symbols s JOIN code_names n ON n.id = s.name_id"
    " JOIN documents d ON d.id = s.doc_id JOIN code_files f ON f.doc_id = s.doc_id"
    " LEFT JOIN code_symbols p ON p.id = s.parent_id"
)


@dataclass(frozen=True)
class StoredSymbol:
    """A symbol with the ids queries need for ranking and joining."""

    symbol: Symbol
    doc_id: int
    parent_id: int | None

    @property
    def id(self) -> int:
        return self.symbol.id

    def scored(self, score: float) -> Symbol:
        return replace(self.symbol, score=round(score, 4))


def _row(row: tuple) -> StoredSymbol:
    return StoredSymbol(Symbol(*row[:15]), row[15], row[16])


def symbols_where(conn: apsw.Connection, where: str, bindings: tuple = (),
                  order: str = "d.path, s.start_line") -> list[StoredSymbol]:
    return [_row(r) for r in conn.execute(
        f"SELECT {_COLUMNS}{_FROM} WHERE {where} ORDER BY {order}", bindings)]


def name_id(conn: apsw.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM code_names WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def symbols_named(conn: apsw.Connection, name: str, *, kind: str | None = None,
                  language: str | None = None, limit: int = -1) -> list[StoredSymbol]:
    """Definitions of ``name``; a qualified name (``Class.method``, ``ns::f``) narrows them to
    those whose qualified name ends with it, whatever the language's separator."""
    parts = [p for p in name.replace("::", ".").split(".") if p]
    if not parts:
        return []
    where = "s.name_id = (SELECT id FROM code_names WHERE name = ?)"
    bindings: list[object] = [parts[-1]]
    if len(parts) > 1:
        suffix = ".".join(parts)
        where += (" AND (replace(s.qualified_name, '::', '.') = ?"
                  " OR replace(s.qualified_name, '::', '.') LIKE ? ESCAPE '\\')")
        bindings += [suffix, "%." + escape_like(suffix)]
    if kind:
        where += " AND s.kind = ?"
        bindings.append(kind)
    if language:
        where += " AND f.language = ?"
        bindings.append(language)
    return symbols_where(conn, where, tuple(bindings),
                         order=f"d.path, s.start_line LIMIT {int(limit)}")


def symbols_by_id(conn: apsw.Connection, ids: Iterable[int]) -> dict[int, StoredSymbol]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found: dict[int, StoredSymbol] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for stored in symbols_where(conn, f"s.id IN ({marks})", tuple(chunk)):
            found[stored.id] = stored
    return found


@dataclass(frozen=True)
class SiteGroup:
    """The stored sites of one name, kind and document, with symbol ids resolved."""

    name: str
    kind: str
    doc_id: int
    path: str
    language: str
    lines: np.ndarray
    columns: np.ndarray
    enclosing: np.ndarray  # symbol id, or 0 at file level


def site_groups(conn: apsw.Connection, where: str, bindings: tuple = ()) -> list[SiteGroup]:
    groups = []
    for name, kind, doc_id, path, language, first, blob in conn.execute(
            "SELECT n.name, r.kind, r.doc_id, d.path, f.language, f.first_symbol, r.sites"
            " FROM code_refs r JOIN code_names n ON n.id = r.name_id"
            " JOIN documents d ON d.id = r.doc_id JOIN code_files f ON f.doc_id = r.doc_id"
            f" WHERE {where} ORDER BY d.path", bindings):
        sites = unpack_sites(blob)
        enclosing = np.where(sites[:, 2] > 0, sites[:, 2] - 1 + first, 0)
        groups.append(SiteGroup(name, REFERENCE_KINDS[kind], doc_id, path, language,
                                sites[:, 0], sites[:, 1], enclosing))
    return groups
