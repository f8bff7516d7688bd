"""Retrieval for grounded answers: definitions, call sites, word search and similar code.

:class:`Retriever` reads one hypercube through its own read-only connection. Every question
is answered inside one read snapshot (:meth:`Retriever.reading`); what is built from the
whole index (the name lexicon, the word index, the document table) is built on first use
and rebuilt when the file has changed (``PRAGMA data_version``), as :class:`CodeIndex` does.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

from app.code.locate import Position
from app.code.names import fold
from app.code.navigate import Navigator
from app.code.results import SimilarHit, Site
from app.code.similar import SimilarFinder
from app.code.symbols import StoredSymbol, symbols_by_id, symbols_named, symbols_where
from app.code.texts import DocumentTexts
from app.errors import HypercubeError
from app.grounded.names import Lexicon, Resolved
from app.grounded.textindex import (
    NAME_WEIGHT,
    PROSE_LANGUAGES,
    Entry,
    TextIndex,
    paragraphs,
    terms,
)
from app.store import Store
from app.store.rows import integer

# How much each kind of definition is worth as "the" definition of an ambiguous name.
KIND_PRIOR = {"class": 1.0, "function": 1.0, "interface": 1.0, "struct": 1.0, "trait": 1.0,
              "enum": 0.9, "type": 0.9, "method": 0.8, "module": 0.7, "macro": 0.7,
              "constant": 0.5, "variable": 0.3, "field": 0.3}
MAX_SITES = 2000
# A docstring's opening says what the code does; the rest (parameters, examples) mostly adds
# words that match everything.
MAX_DOC_CHARS = 600
# Suffix given to a pasted snippet written out for the similarity query, by language.
SUFFIXES = {"python": ".py", "py": ".py", "javascript": ".js", "js": ".js", "jsx": ".jsx",
            "typescript": ".ts", "ts": ".ts", "tsx": ".tsx", "go": ".go", "golang": ".go",
            "rust": ".rs", "rs": ".rs", "java": ".java", "c": ".c", "h": ".h", "cpp": ".cpp",
            "c++": ".cpp", "cc": ".cpp", "hpp": ".hpp", "csharp": ".cs", "cs": ".cs",
            "c#": ".cs"}
_TEST_PATH = re.compile(r"(?:^|/)(?:tests?|testing|__tests__|spec)(?:/|$)|(?:^|/)test_|_test\.")


@dataclass(frozen=True)
class Document:
    id: int
    path: str
    language: str
    display_path: str


@dataclass(frozen=True)
class SearchResult:
    entry: Entry
    score: float
    symbol: StoredSymbol | None   # None for a prose paragraph
    coverage: float               # share of the query's words the entry contains


class Retriever:
    """The code index of one hypercube, as grounded chat queries it (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self.texts = DocumentTexts(store.conn)
        self.navigator = Navigator(store.conn, self.texts)
        # Reads no file but the temporary one it writes a pasted snippet to (see similar()).
        self._similar = SimilarFinder(store.conn, read_local_files=True)
        self._version: tuple[int, int] | None = None
        self._lexicon: Lexicon | None = None
        self._index: TextIndex | None = None
        self._documents: dict[int, Document] = {}
        self._by_path: dict[str, Document] = {}

    @contextmanager
    def reading(self) -> Iterator[Retriever]:
        """One consistent read of the hypercube."""
        with self._lock, self.store.snapshot() as conn:
            version = (integer(conn, "PRAGMA data_version"), conn.total_changes())
            if version != self._version:
                self.texts.clear()
                self._similar.invalidate()
                self._lexicon = None
                self._index = None
                self._load_documents()
                self._version = version
            yield self

    # -- what the whole index gives ---------------------------------------------------------

    @property
    def lexicon(self) -> Lexicon:
        if self._lexicon is None:
            self._lexicon = Lexicon.load(self.store.conn)
        return self._lexicon

    @property
    def text_index(self) -> TextIndex:
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def counts(self) -> tuple[int, int]:
        """(documents, definitions) in the hypercube."""
        return len(self._documents), sum(self.lexicon.counts.values())

    def document(self, doc_id: int) -> Document:
        return self._documents[doc_id]

    def document_at(self, path: str) -> Document | None:
        return self._by_path.get(path)

    def _load_documents(self) -> None:
        conn = self.store.conn
        roots = sorted({root for (raw,) in conn.execute("SELECT roots FROM runs")
                        for root in json.loads(raw)}, key=len, reverse=True)
        self._documents = {}
        for doc_id, path, language in conn.execute("SELECT id, path, language FROM documents"):
            self._documents[doc_id] = Document(doc_id, path, language, _display(path, roots))
        self._by_path = {d.path: d for d in self._documents.values()}

    def _build_index(self) -> TextIndex:
        index = TextIndex()
        conn = self.store.conn
        for symbol_id, doc_id, name, parent, doc, signature, start, end in conn.execute(
                "SELECT s.id, s.doc_id, n.name, p.qualified_name, s.doc, s.signature,"
                " s.start_line, s.end_line FROM code_symbols s"
                " JOIN code_names n ON n.id = s.name_id"
                " LEFT JOIN code_symbols p ON p.id = s.parent_id ORDER BY s.id"):
            parameters = signature[signature.find("("):] if "(" in signature else ""
            described = f"{parent or ''} {doc[:MAX_DOC_CHARS]} {parameters}"
            index.add(Entry(symbol_id, doc_id, start, end),
                      [(terms(name), NAME_WEIGHT), (terms(described), 1)])
        marks = ",".join("?" * len(PROSE_LANGUAGES))
        for (doc_id,) in cast(list[tuple[int]], conn.execute(
                f"SELECT id FROM documents WHERE language IN ({marks})",
                PROSE_LANGUAGES).fetchall()):
            for first, last, text in paragraphs(self.texts.get(doc_id).text):
                index.add(Entry(None, doc_id, first, last), [(terms(text), 1)])
        return index.freeze()

    # -- definitions ------------------------------------------------------------------------

    def resolve(self, text: str) -> list[Resolved]:
        return self.lexicon.resolve(text)

    def definitions(self, resolved: Resolved, symbol_kind: str | None = None,
                    limit: int = 20) -> list[StoredSymbol]:
        """Definitions of a resolved name, the most likely meant first."""
        conn = self.store.conn
        found = symbols_named(conn, resolved.query) if resolved.qualifier else []
        if not found:
            found = symbols_named(conn, resolved.name)
            if resolved.qualifier:
                # A mistyped or partial qualifier still prefers the owners it resembles.
                wanted = fold(resolved.qualifier.split(".")[-1])
                narrowed = [s for s in found if wanted and wanted in fold(
                    s.symbol.qualified_name.rsplit(".", 1)[0] if "." in
                    s.symbol.qualified_name else s.symbol.path)]
                found = narrowed or found
        found.sort(key=lambda s: (-self._prior(s, symbol_kind), s.symbol.path,
                                  s.symbol.start_line))
        return found[:limit]

    @staticmethod
    def _prior(stored: StoredSymbol, symbol_kind: str | None) -> float:
        symbol = stored.symbol
        score = KIND_PRIOR.get(symbol.kind, 0.5)
        if symbol_kind and (symbol.kind == symbol_kind or (
                symbol_kind == "function" and symbol.kind == "method")):
            score += 2.0
        if symbol.doc:
            score += 0.1
        if _TEST_PATH.search(symbol.path):
            score -= 0.5
        return score

    # -- uses -------------------------------------------------------------------------------

    def call_sites(self, name: str, limit: int = 20) -> tuple[list[Site], int]:
        """Calls of ``name`` first (else its other uses), and how many uses there are."""
        sites = self.navigator.refs(name, limit=MAX_SITES)
        calls = [s for s in sites if s.kind == "call"]
        chosen = calls or sites
        chosen.sort(key=lambda s: (bool(_TEST_PATH.search(s.path)), s.path, s.line))
        return chosen[:limit], len(chosen)

    def symbol(self, symbol_id: int) -> StoredSymbol | None:
        return symbols_by_id(self.store.conn, [symbol_id]).get(symbol_id)

    def enclosing(self, doc_id: int, line: int) -> StoredSymbol | None:
        found = symbols_where(self.store.conn,
                              "s.doc_id = ? AND s.start_line <= ? AND s.end_line >= ?",
                              (doc_id, line, line), order="s.start_line DESC LIMIT 1")
        return found[0] if found else None

    # -- words ------------------------------------------------------------------------------

    def search(self, text: str, limit: int = 5) -> list[SearchResult]:
        """Definitions and prose paragraphs best matching the words of ``text``."""
        wanted = terms(text)
        if not wanted:
            return []
        hits = self.text_index.search(wanted, limit=limit * 4)
        symbols = symbols_by_id(self.store.conn,
                                [e.symbol_id for e, _ in hits if e.symbol_id is not None])
        distinct = set(wanted)
        results = []
        for entry, score in hits:
            stored = symbols.get(entry.symbol_id) if entry.symbol_id is not None else None
            if stored is not None:
                symbol = stored.symbol
                have = set(terms(" ".join((symbol.name, symbol.parent or "", symbol.doc,
                                           symbol.signature))))
                # A definition with a docstring says what it does; a bare variable rarely.
                score *= 0.6 + 0.4 * KIND_PRIOR.get(symbol.kind, 0.5) + 0.1 * bool(symbol.doc)
                if _TEST_PATH.search(symbol.path):
                    score *= 0.7
            else:
                have = set(terms(self.lines(entry.doc_id, entry.line, entry.end_line)))
            coverage = len(distinct & have) / len(distinct)
            results.append(SearchResult(entry, score, stored, coverage))
        results.sort(key=lambda r: -r.score)
        return results[:limit]

    # -- similar code -----------------------------------------------------------------------

    def similar(self, code: str, language: str | None, limit: int = 5) -> list[SimilarHit]:
        """Definitions shaped like a pasted snippet. The snippet is parsed as a file of its
        language (Python, when no fence tag says otherwise); a few Python statements that
        are not a definition are wrapped in one."""
        suffix = SUFFIXES.get((language or "python").lower())
        if suffix is None:
            return []
        attempts = [code]
        if suffix == ".py" and not re.match(r"\s*(?:async\s+def|def|class)\b", code):
            attempts.append("def snippet():\n" + "\n".join(
                "    " + line for line in code.splitlines()))
        for attempt in attempts:
            with tempfile.TemporaryDirectory(prefix="hypercube-snippet-") as folder:
                path = Path(folder) / f"snippet{suffix}"
                path.write_text(attempt, encoding="utf-8")
                line = next((n for n, text in enumerate(attempt.splitlines(), 1)
                             if text.strip()), 1)
                try:
                    result = self._similar.similar(Position(str(path), line), limit=limit,
                                                   min_score=0.3)
                except HypercubeError:
                    continue
            return result.hits
        return []

    # -- text -------------------------------------------------------------------------------

    def lines(self, doc_id: int, first: int, last: int) -> str:
        text = self.texts.get(doc_id)
        return "\n".join(text.line(n) for n in range(first, last + 1))


def _display(path: str, roots: list[str]) -> str:
    """``path`` relative to the ingest root it was found under (the longest), else as is."""
    for root in roots:
        if path == root:
            return PurePosixPath(path).name
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix):]
    return path
