"""Code intelligence under ``/v1/code/…``: the queries of :class:`app.code.CodeIndex` over HTTP.

Each query is a GET with query-string parameters, answered with ``{"object": "list", "data":
[...]}`` (or the result object for ``similar``, ``analogy`` and ``file``)::

    /v1/code/defs?name=Store.write            definitions (or ?at=FILE:LINE[:COL])
    /v1/code/refs?name=encode                 uses of a name
    /v1/code/callers?name=encode              definitions calling it
    /v1/code/callees?name=run                 what a definition calls (or ?at=FILE:LINE)
    /v1/code/implementations?name=Analyzer    subtypes, implementors, overrides
    /v1/code/search?q=TODO&mode=substring     lines (substring, regex) or identifiers
    /v1/code/similar?at=FILE:LINE             definitions shaped like the one at a line
    /v1/code/analogy?example=NAME&to_type=T   code like an example, for another type
    /v1/code/file?path=src/app.py             an ingested file's whole text (a unique suffix
                                              of its path will do; 404 for anything else)
    /v1/code/files?contains=src/&language=go  the ingested files, in path order (a file tree)

Only ingested documents are read (``similar?at=`` too): a client can neither read nor probe
other files of the server. Queries run on a small pool of indexes (:data:`CODE_READERS`, each
over its own read connection, app/store/pool.py), so one slow query does not hold up the
next; a few more may wait, and the rest get 429 at once, so code queries never take every
serving thread (``/health`` and generation keep answering).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon

from app.api.http.tracing import span
from app.code import CodeIndex
from app.errors import InvalidRequest, RateLimited
from app.store.pool import Pool

# Code queries running or waiting at once; more get 429.
MAX_QUEUED_QUERIES = 4
# Code queries running at once, each on its own index and read connection. Every index keeps
# its own caches (file texts, the similar-code signatures), so the pool stays small: two
# lets a quick query pass a slow one on a two-core edge device.
CODE_READERS = 2


@dataclass(frozen=True)
class Query:
    """One route: the CodeIndex method, its parameters (query-string name, keyword, type), the
    ones that must be given, and a group of which at least one must be."""

    method: str
    params: tuple[tuple[str, str, type], ...]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()


_LIMIT = ("limit", "limit", int)
_LANGUAGE = ("language", "language", str)
_NAME = ("name", "name", str)
_AT = ("at", "at", str)
QUERIES: dict[str, Query] = {
    "defs": Query("defs", (_NAME, _AT, ("kind", "kind", str), _LANGUAGE, _LIMIT),
                  one_of=("name", "at")),
    "refs": Query("refs", (_NAME, ("kind", "kind", str), _LANGUAGE, _LIMIT), ("name",)),
    "callers": Query("callers", (_NAME, _LANGUAGE, _LIMIT), ("name",)),
    "callees": Query("callees", (_NAME, _AT, _LIMIT), one_of=("name", "at")),
    "implementations": Query("implementations", (_NAME, _LIMIT), ("name",)),
    "search": Query("search", (("q", "query", str), ("mode", "mode", str),
                               ("case_sensitive", "case_sensitive", bool), _LANGUAGE, _LIMIT,
                               ("per_file", "per_file", int), ("context", "context", int)),
                    ("q",)),
    "similar": Query("similar", (_AT, _LIMIT, ("min_score", "min_score", float), _LANGUAGE,
                                 ("cross_language", "cross_language", bool)), ("at",)),
    "analogy": Query("analogy", (("example", "example", str), ("to_type", "to_type", str),
                                 ("from_type", "from_type", str), _LIMIT),
                     ("example", "to_type")),
    "file": Query("file", (("path", "path", str),), ("path",)),
    "files": Query("files", (("contains", "contains", str), _LANGUAGE, _LIMIT)),
}


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is str:
        return raw
    if kind is bool:
        if raw.lower() in ("1", "true", "yes"):
            return True
        if raw.lower() in ("0", "false", "no"):
            return False
        raise InvalidRequest(f"'{name}' must be true or false", param=name)
    try:
        return kind(raw)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be {'an integer' if kind is int else 'a number'}",
                             param=name) from None


class QueryGate:
    """Admits at most ``size`` code queries at once (one runs, the others wait for it)."""

    def __init__(self, size: int = MAX_QUEUED_QUERIES) -> None:
        self._slots = threading.BoundedSemaphore(size)

    def __enter__(self) -> QueryGate:
        if not self._slots.acquire(blocking=False):
            raise RateLimited("too many code queries at once; retry in a moment",
                              retry_after=1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._slots.release()


class CodeQueryResource:
    accepts = ()

    def __init__(self, indexes: Pool[CodeIndex], route: str, gate: QueryGate | None = None
                 ) -> None:
        self.spec = QUERIES[route]
        self.indexes = indexes
        self.gate = gate or QueryGate()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        given: dict[str, Any] = {}
        kwargs: dict[str, Any] = {}
        for name, keyword, kind in self.spec.params:
            raw = req.get_param(name)
            if raw and "\x00" in raw:
                raise InvalidRequest(f"'{name}' must not contain NUL bytes", param=name)
            if raw:
                given[name] = kwargs[keyword] = _convert(name, raw, kind)
        missing = [name for name in self.spec.required if name not in given]
        if missing:
            raise InvalidRequest(f"you must provide '{missing[0]}'", param=missing[0])
        if self.spec.one_of and not any(name in given for name in self.spec.one_of):
            names = " or ".join(f"'{n}'" for n in self.spec.one_of)
            raise InvalidRequest(f"you must provide {names}", param=self.spec.one_of[0])
        with (self.gate, span("code." + self.spec.method, **{"code.query": self.spec.method}),
              self.indexes.lend() as index):
            query: Callable[..., Any] = getattr(index, self.spec.method)
            result = query(**kwargs)
        if isinstance(result, list):
            resp.media = {"object": "list", "data": [item.to_dict() for item in result]}
        else:
            resp.media = result.to_dict()
