"""``CodeIndex``: the one query surface of code intelligence, for the CLI and the HTTP API.

Every method returns dataclasses from :mod:`app.code.results` (``.to_dict()`` gives JSON-ready
dicts) and raises :class:`~app.errors.NotFound` or :class:`~app.errors.InvalidRequest` with
a message fit for a user. Each query runs inside one read snapshot of the store; caches
(decoded documents, the signature matrix) are dropped whenever the file has changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from app.code.locate import Position, find_document
from app.code.navigate import Navigator, enclosing_symbols
from app.code.results import (
    AnalogyResult,
    CalleeSet,
    Caller,
    Implementation,
    IngestedFile,
    SearchHit,
    SimilarResult,
    Site,
    SourceFile,
    Symbol,
)
from app.code.search import Searcher
from app.code.similar import SimilarFinder
from app.code.symbols import StoredSymbol, symbols_by_id
from app.code.texts import DocumentTexts
from app.errors import InvalidRequest, NotFound
from app.store import Store
from app.store.rows import integer

T = TypeVar("T")
# Files one listing returns at most (a tree of more is not read by a person anyway).
MAX_FILES = 20_000


def _position(value: str | Position | None) -> Position | None:
    if value is None or isinstance(value, Position):
        return value
    return Position.parse(value)


def _limit(value: int) -> int:
    if not 1 <= value <= 10_000:
        raise InvalidRequest("limit must be between 1 and 10000", param="limit")
    return value


class CodeIndex:
    """Queries over the code facts of one hypercube (thread-safe; one query at a time)."""

    def __init__(self, store: Store, *, read_local_files: bool = False) -> None:
        """``read_local_files`` lets ``similar`` take a position in a file that was never
        ingested (the CLI's user owns the machine); the API leaves it off, so a client can
        neither read nor probe files of the server."""
        self.store = store
        self._lock = threading.RLock()
        self._texts = DocumentTexts(store.conn)
        self._navigator = Navigator(store.conn, self._texts)
        self._searcher = Searcher(store.conn, self._texts)
        self._similar = SimilarFinder(store.conn, read_local_files=read_local_files)
        self._seen_version: tuple[int, int] | None = None

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock, self.store.snapshot() as conn:
            # data_version moves when another connection commits; total_changes when ours does.
            version = (integer(conn, "PRAGMA data_version"), conn.total_changes())
            if version != self._seen_version:
                self._texts.clear()
                self._similar.invalidate()
                self._seen_version = version
            yield

    def _run(self, query: Callable[[], T]) -> T:
        with self._reading():
            return query()

    # -- navigation -------------------------------------------------------------------------

    def defs(self, name: str | None = None, *, at: str | Position | None = None,
             kind: str | None = None, language: str | None = None,
             limit: int = 50) -> list[Symbol]:
        """Definitions of ``name`` (``Class.method`` and ``ns::f`` narrow by scope). With
        ``at`` (``FILE:LINE[:COL]``) they are ranked for that position, best first, and the
        name may be left out to take the identifier under the column."""
        return self._run(lambda: self._navigator.defs(
            name, at=_position(at), kind=kind, language=language, limit=_limit(limit)))

    def refs(self, name: str, *, kind: str | None = None, language: str | None = None,
             limit: int = 200) -> list[Site]:
        """Uses of ``name`` (calls, uses as a type, other references), by path and line."""
        return self._run(lambda: self._navigator.refs(name, kind=kind, language=language,
                                                      limit=_limit(limit)))

    def callers(self, name: str, *, language: str | None = None,
                limit: int = 100) -> list[Caller]:
        """Definitions calling ``name``, most calls first."""
        return self._run(lambda: self._navigator.callers(name, language=language,
                                                         limit=_limit(limit)))

    def callees(self, name: str | None = None, *, at: str | Position | None = None,
                language: str | None = None, limit: int = 20) -> list[CalleeSet]:
        """What each definition of ``name`` calls (or the definition around ``at``)."""
        return self._run(lambda: self._navigator.callees(name, at=_position(at),
                                                         language=language,
                                                         limit=_limit(limit)))

    def implementations(self, name: str, *, limit: int = 200) -> list[Implementation]:
        """Subtypes / implementors of a type, transitively, or overrides of a method."""
        return self._run(lambda: self._navigator.implementations(name, limit=_limit(limit)))

    def files(self, *, contains: str | None = None, language: str | None = None,
              limit: int = 10_000) -> list[IngestedFile]:
        """The ingested documents (a file tree's leaves), in path order: those whose path
        holds ``contains`` (case-insensitive), in ``language``; at most ``limit``."""
        def read() -> list[IngestedFile]:
            rows = self.store.conn.execute(
                "SELECT path, language, size FROM documents"
                " WHERE (?1 IS NULL OR instr(lower(path), lower(?1)) > 0)"
                " AND (?2 IS NULL OR language = ?2) ORDER BY path LIMIT ?3",
                (contains or None, language or None, max(1, min(limit, MAX_FILES))))
            return [IngestedFile(str(p), str(lang), int(size)) for p, lang, size in rows]
        return self._run(read)

    def file(self, path: str) -> SourceFile:
        """The whole text of the ingested document at ``path`` (exact, else a unique suffix),
        rebuilt from its stored tokens: only what was ingested can be read this way, never
        another file of the machine."""
        def read() -> SourceFile:
            doc = find_document(self.store.conn, path)
            text = self._texts.get(doc.id).text
            lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
            return SourceFile(doc.path, doc.language, text, lines)
        return self._run(read)

    # -- search and similarity --------------------------------------------------------------

    def search(self, query: str, *, mode: str = "substring", case_sensitive: bool = False,
               language: str | None = None, limit: int = 50, per_file: int = 5,
               context: int = 0) -> list[SearchHit]:
        """Matching lines (``substring`` or ``regex``) or definitions (``identifier``)."""
        return self._run(lambda: self._searcher.search(
            query, mode=mode, case_sensitive=case_sensitive, language=language,
            limit=_limit(limit), per_file=_limit(per_file), context=max(0, min(context, 10))))

    def similar(self, at: str | Position, *, limit: int = 10, min_score: float = 0.5,
                language: str | None = None, cross_language: bool = False) -> SimilarResult:
        """Definitions shaped like the one around ``at`` (``FILE:LINE``; with
        ``read_local_files`` the file need not be ingested), across languages unless
        filtered."""
        position = _position(at)
        assert position is not None
        return self._run(lambda: self._similar.similar(
            position, limit=_limit(limit), min_score=min_score, language=language,
            cross_language=cross_language))

    def analogy(self, example: str, to_type: str, *, from_type: str | None = None,
                limit: int = 10) -> AnalogyResult:
        """Code like ``example`` (a name or ``FILE:LINE``) but for the type ``to_type``."""
        return self._run(lambda: self._similar.analogy(
            self._example(example), to_type, from_type, limit=_limit(limit)))

    def _example(self, example: str) -> StoredSymbol:
        try:
            position = Position.parse(example)
        except InvalidRequest:
            position = None
        if position is not None:
            doc = find_document(self.store.conn, position.path)
            chain = enclosing_symbols(self.store.conn, doc.id, position.line)
            if not chain:
                raise NotFound(f"no definition around {example}")
            return chain[0]
        found = self._navigator.defs(example, limit=1)
        if not found:
            raise NotFound(f"no definition of {example!r} in the hypercube")
        return symbols_by_id(self.store.conn, [found[0].id])[found[0].id]
