"""Navigation queries: definitions, references, callers, callees and implementations."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import cast

import apsw

from app.code import resolve
from app.code.locate import Position, find_document
from app.code.packing import CALL, KIND_CODE
from app.code.results import (
    Callee,
    CalleeSet,
    Caller,
    Implementation,
    Site,
    Symbol,
)
from app.code.symbols import (
    StoredSymbol,
    site_groups,
    symbols_by_id,
    symbols_named,
    symbols_where,
)
from app.code.texts import DocumentTexts
from app.errors import InvalidRequest, NotFound

_IDENTIFIER = re.compile(r"[A-Za-z_$\w][\w$]*")
SNIPPET_CHARS = 200
MAX_DEPTH = 8
# Definitions of one name ranked for a position (a name defined more often is ranked among
# the first this many, in path order).
MAX_CANDIDATES = 2000


def snippet(line: str) -> str:
    return line.strip()[:SNIPPET_CHARS]


def enclosing_symbols(conn: apsw.Connection, doc_id: int, line: int) -> list[StoredSymbol]:
    """Definitions of a document containing ``line``, innermost first."""
    found = symbols_where(conn, "s.doc_id = ? AND s.start_line <= ? AND s.end_line >= ?",
                          (doc_id, line, line), order="s.start_line, s.end_line DESC")
    return sorted(found, key=lambda s: (s.symbol.start_line, -s.symbol.end_line),
                  reverse=True)


def identifier_at(line_text: str, column: int) -> str | None:
    """The identifier covering (or ending just before) a 1-based column."""
    for match in _IDENTIFIER.finditer(line_text):
        if match.start() + 1 <= column <= match.end() + 1:
            return match.group()
    return None


class Navigator:
    def __init__(self, conn: apsw.Connection, texts: DocumentTexts) -> None:
        self.conn = conn
        self.texts = texts

    # -- definitions ------------------------------------------------------------------------

    def defs(self, name: str | None, *, at: Position | None = None, kind: str | None = None,
             language: str | None = None, limit: int = 50) -> list[Symbol]:
        if at is None:
            if not name:
                raise InvalidRequest("give a NAME, or a position with --at FILE:LINE:COL",
                                     param="name")
            found = symbols_named(self.conn, name, kind=kind, language=language, limit=limit)
            return [s.symbol for s in found]
        doc = find_document(self.conn, at.path)
        line_text = self.texts.get(doc.id).line(at.line)
        if not name:
            if at.column is None:
                raise InvalidRequest("give a NAME or a column (--at FILE:LINE:COL)",
                                     param="name")
            name = identifier_at(line_text, at.column)
            if name is None:
                raise NotFound(f"no identifier at {at.path}:{at.line}:{at.column}")
        column = at.column
        if column is None:
            # Without a column, resolve the name's first occurrence on that line.
            found_at = re.search(rf"(?<![\w$]){re.escape(name.split('.')[-1])}(?![\w$])",
                                 line_text)
            column = found_at.start() + 1 if found_at else None
        context = resolve.build_context(
            self.conn, doc, at.line, column, name.replace("::", ".").split(".")[-1], line_text,
            enclosing_symbols(self.conn, doc.id, at.line))
        alias = next(((module, imported) for module, imported, bound in context.imports
                      if bound == context.name and imported and imported != bound), None)
        if alias is not None:
            # `from m import f as g`, then g(): what g names is m's f.
            context.alias_of = alias
            name = alias[1].replace("::", ".").split(".")[-1]
        candidates = symbols_named(self.conn, name, kind=kind, language=language,
                                   limit=MAX_CANDIDATES)
        ranked = sorted(((resolve.score(c, context), c) for c in candidates),
                        key=lambda pair: (-pair[0], pair[1].symbol.path,
                                          pair[1].symbol.start_line))
        return [c.scored(points) for points, c in ranked[:limit]]

    @staticmethod
    def _filter(found: list[StoredSymbol], kind: str | None,
                language: str | None) -> list[StoredSymbol]:
        return [s for s in found
                if (kind is None or s.symbol.kind == kind)
                and (language is None or s.symbol.language == language)]

    # -- references -------------------------------------------------------------------------

    def refs(self, name: str, *, kind: str | None = None, language: str | None = None,
             limit: int = 200) -> list[Site]:
        short = name.replace("::", ".").split(".")[-1]
        where = "n.name = ?"
        bindings: list[str | int] = [short]
        if kind:
            if kind not in KIND_CODE:
                raise InvalidRequest(f"unknown reference kind {kind!r}; use one of "
                                     f"{', '.join(KIND_CODE)}", param="kind")
            where += " AND r.kind = ?"
            bindings.append(KIND_CODE[kind])
        if language:
            where += " AND f.language = ?"
            bindings.append(language)
        groups = site_groups(self.conn, where, tuple(bindings))
        rows = sorted(((g, int(ln), int(col), int(enc)) for g in groups
                       for ln, col, enc in zip(g.lines, g.columns, g.enclosing, strict=True)),
                      key=lambda r: (r[0].path, r[1], r[2]))[:limit]
        enclosing = symbols_by_id(self.conn, (r[3] for r in rows if r[3]))
        sites = []
        for group, line, column, enc in rows:
            text = self.texts.get(group.doc_id)
            owner = enclosing.get(enc)
            sites.append(Site(group.name, group.kind, group.language, group.path, line, column,
                              snippet(text.line(line)),
                              owner.symbol.qualified_name if owner else None,
                              owner.id if owner else None))
        return sites

    # -- calls ------------------------------------------------------------------------------

    def callers(self, name: str, *, language: str | None = None,
                limit: int = 100) -> list[Caller]:
        short = name.replace("::", ".").split(".")[-1]
        where, bindings = f"n.name = ? AND r.kind = {CALL}", [short]
        if language:
            where += " AND f.language = ?"
            bindings.append(language)
        by_caller: dict[tuple[str, int], list[int]] = defaultdict(list)
        for group in site_groups(self.conn, where, tuple(bindings)):
            for line, enc in zip(group.lines, group.enclosing, strict=True):
                by_caller[group.path, int(enc)].append(int(line))
        owners = symbols_by_id(self.conn, (enc for _, enc in by_caller if enc))
        callers = [
            Caller(short, owners[enc].symbol if enc in owners else None, path, sorted(lines),
                   len(lines))
            for (path, enc), lines in by_caller.items()
        ]
        callers.sort(key=lambda c: (-c.count, c.path, c.lines[0]))
        return callers[:limit]

    def callees(self, name: str | None, *, at: Position | None = None,
                language: str | None = None, limit: int = 20) -> list[CalleeSet]:
        if at is not None and not name:
            doc = find_document(self.conn, at.path)
            chain = enclosing_symbols(self.conn, doc.id, at.line)
            targets = [s for s in chain if s.symbol.kind in resolve.CALLABLE_KINDS][:1] \
                or chain[:1]
            if not targets:
                raise NotFound(f"no definition at {at.path}:{at.line}")
        elif name:
            targets = self._filter(
                self._resolved(name, at) if at else symbols_named(self.conn, name),
                None, language)
        else:
            raise InvalidRequest("give a NAME or --at FILE:LINE", param="name")
        if not targets:
            raise NotFound(f"no definition of {name!r} in the hypercube")
        return [CalleeSet(t.symbol, self._callees_of(t)) for t in targets[:limit]]

    def _resolved(self, name: str, at: Position) -> list[StoredSymbol]:
        best = self.defs(name, at=at, limit=1)
        return list(symbols_by_id(self.conn, [best[0].id]).values()) if best else []

    def _callees_of(self, target: StoredSymbol) -> list[Callee]:
        by_name: dict[str, list[int]] = defaultdict(list)
        for group in site_groups(self.conn, f"r.doc_id = ? AND r.kind = {CALL}",
                                 (target.doc_id,)):
            for line, enc in zip(group.lines, group.enclosing, strict=True):
                if int(enc) == target.id:
                    by_name[group.name].append(int(line))
        callees = []
        for callee, lines in sorted(by_name.items(), key=lambda kv: min(kv[1])):
            lines.sort()
            best = self.defs(callee, at=Position(target.symbol.path, lines[0]), limit=1) \
                if symbols_named(self.conn, callee) else []
            callees.append(Callee(callee, len(lines), lines, best[0] if best else None))
        return callees

    # -- implementations --------------------------------------------------------------------

    def implementations(self, name: str, *, limit: int = 200) -> list[Implementation]:
        """Subtypes and implementors of a type (transitively), or overrides of a method."""
        found = symbols_named(self.conn, name)
        methods = [s for s in found if s.symbol.kind in ("method", "function")
                   and (s.parent_id is not None or "." in s.symbol.qualified_name
                        or "::" in s.symbol.qualified_name)]
        types = [s for s in found if s.symbol.kind in resolve.TYPE_KINDS]
        results: list[Implementation] = []
        if types or not methods:
            short = name.replace("::", ".").split(".")[-1]
            results += self._subtypes(short)
            results += self._go_implicit(types)
        if methods:
            results += self._overrides(methods)
        if not results and not found:
            raise NotFound(f"no definition of {name!r} in the hypercube")
        unique: dict[int, Implementation] = {}
        for item in results:
            unique.setdefault(item.symbol.id, item)
        return sorted(unique.values(), key=lambda i: (i.depth, i.symbol.path,
                                                      i.symbol.start_line))[:limit]

    def _subtypes(self, base: str) -> list[Implementation]:
        results: list[Implementation] = []
        seen = {base}
        frontier = [base]
        for depth in range(1, MAX_DEPTH + 1):
            if not frontier:
                break
            marks = ",".join("?" * len(frontier))
            rows = cast(list[tuple[int, str, str]], self.conn.execute(
                "SELECT i.symbol_id, i.kind, n.name FROM code_inherits i"
                " JOIN code_names n ON n.id = i.base_name_id"
                f" WHERE n.name IN ({marks})", tuple(frontier)).fetchall())
            symbols = symbols_by_id(self.conn, (r[0] for r in rows))
            frontier = []
            for symbol_id, kind, via in rows:
                stored = symbols[symbol_id]
                results.append(Implementation(stored.symbol, kind, via, depth))
                if stored.symbol.name not in seen:
                    seen.add(stored.symbol.name)
                    frontier.append(stored.symbol.name)
        return results

    def _go_implicit(self, types: list[StoredSymbol]) -> list[Implementation]:
        """Go types implement interfaces implicitly: those having all the interface's methods."""
        results: list[Implementation] = []
        for interface in types:
            if interface.symbol.language != "go" or interface.symbol.kind != "interface":
                continue
            wanted = [m.symbol.name for m in symbols_where(
                self.conn, "s.parent_id = ? AND s.kind = 'method'", (interface.id,))]
            if not wanted:
                continue
            receivers: set[str] | None = None
            for method in wanted:
                owners = {s.symbol.qualified_name.rsplit(".", 1)[0]
                          for s in symbols_named(self.conn, method)
                          if s.symbol.language == "go" and s.parent_id is None
                          and "." in s.symbol.qualified_name}
                receivers = owners if receivers is None else receivers & owners
            for receiver in sorted(receivers or ()):
                for stored in symbols_named(self.conn, receiver):
                    if stored.symbol.language == "go" and stored.symbol.kind in (
                            "struct", "type", "class"):
                        results.append(Implementation(stored.symbol, "implements",
                                                      interface.symbol.name, 1))
        return results

    def _overrides(self, methods: list[StoredSymbol]) -> list[Implementation]:
        results: list[Implementation] = []
        for method in methods:
            owner = method.symbol.qualified_name.replace("::", ".").rsplit(".", 1)[0]
            owner_name = owner.rsplit(".", 1)[-1]
            for sub in self._subtypes(owner_name):
                for stored in symbols_where(
                        self.conn, "s.parent_id = ? AND n.name = ?",
                        (sub.symbol.id, method.symbol.name)):
                    results.append(Implementation(stored.symbol, "overrides", owner_name,
                                                  sub.depth))
                # Out-of-line members (Go receivers, C++ Foo::bar, Rust impl blocks) are
                # qualified by their type rather than nested in it.
                for stored in symbols_named(self.conn,
                                            f"{sub.symbol.name}.{method.symbol.name}"):
                    if stored.parent_id != sub.symbol.id:
                        results.append(Implementation(stored.symbol, "overrides", owner_name,
                                                      sub.depth))
        return results

