"""Similar code (clone detection, across languages too) and analogies.

All stored MinHash signatures are held in one numpy matrix, so comparing a definition
against every other one is a single vectorised pass (milliseconds for tens of thousands of
definitions); exact structural clones (equal shape hash) always score 1.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import apsw
import numpy as np

from app.code import fingerprint
from app.code.extract import FINGERPRINTED_KINDS, Definition, extract
from app.code.languages import language_spec
from app.code.locate import Position, find_document
from app.code.names import fold, words
from app.code.results import AnalogyHit, AnalogyResult, SimilarHit, SimilarResult, Symbol
from app.code.symbols import StoredSymbol, symbols_by_id, symbols_named, symbols_where
from app.detect import detect_language
from app.errors import InvalidRequest, NotFound


@dataclass
class _Signatures:
    ids: np.ndarray
    shapes: np.ndarray
    matrix: np.ndarray  # (n, 64) uint8; rows of zeros where a definition has no signature
    signed: np.ndarray  # bool: has a MinHash signature


def load_signatures(conn: apsw.Connection) -> _Signatures:
    rows = cast(list[tuple[int, int, bytes | None]], conn.execute(
        "SELECT symbol_id, shape, minhash FROM code_fingerprints ORDER BY symbol_id").fetchall())
    size = fingerprint.SIGNATURE_SIZE
    matrix = np.zeros((len(rows), size), dtype=np.uint8)
    signed = np.zeros(len(rows), dtype=bool)
    for i, (_, _, blob) in enumerate(rows):
        if blob is not None:
            matrix[i] = np.frombuffer(blob, dtype=np.uint8)
            signed[i] = True
    return _Signatures(np.array([r[0] for r in rows], dtype=np.int64),
                       np.array([r[1] for r in rows], dtype=np.int64), matrix, signed)


@dataclass
class _Query:
    symbol: Symbol
    shape: int
    signature: np.ndarray | None
    doc_id: int | None
    start_line: int
    end_line: int


class SimilarFinder:
    def __init__(self, conn: apsw.Connection, *, read_local_files: bool = False) -> None:
        self.conn = conn
        self.read_local_files = read_local_files
        self._signatures: _Signatures | None = None

    def invalidate(self) -> None:
        self._signatures = None

    def signatures(self) -> _Signatures:
        if self._signatures is None:
            self._signatures = load_signatures(self.conn)
        return self._signatures

    # -- similar ----------------------------------------------------------------------------

    def similar(self, at: Position, *, limit: int = 10, min_score: float = 0.5,
                language: str | None = None, cross_language: bool = False) -> SimilarResult:
        query = self._query_at(at)
        return SimilarResult(query.symbol, self._rank(query, limit, min_score, language,
                                                      cross_language))

    def _rank(self, query: _Query, limit: int, min_score: float, language: str | None,
              cross_language: bool) -> list[SimilarHit]:
        sigs = self.signatures()
        if len(sigs.ids) == 0:
            return []
        scores = np.zeros(len(sigs.ids))
        if query.signature is not None:
            scores = np.where(sigs.signed, fingerprint.similarity(query.signature, sigs.matrix),
                              0.0)
        exact = sigs.shapes == query.shape
        scores = np.where(exact, 1.0, scores)
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] >= min_score]
        hits: list[SimilarHit] = []
        for start in range(0, len(order), 200):
            chunk = order[start:start + 200]
            found = symbols_by_id(self.conn, sigs.ids[chunk].tolist())
            for index in chunk:
                stored = found.get(int(sigs.ids[index]))
                if stored is None or self._overlaps(query, stored):
                    continue
                symbol = stored.symbol
                if language and symbol.language != language:
                    continue
                if cross_language and symbol.language == query.symbol.language:
                    continue
                hits.append(SimilarHit(stored.scored(float(scores[index])),
                                       round(float(scores[index]), 4), bool(exact[index])))
                if len(hits) >= limit:
                    return hits
        return hits

    @staticmethod
    def _overlaps(query: _Query, stored: StoredSymbol) -> bool:
        """The query itself, or a definition inside it or around it."""
        return stored.doc_id == query.doc_id and not (
            stored.symbol.end_line < query.start_line or stored.symbol.start_line > query.end_line)

    def _query_at(self, at: Position) -> _Query:
        try:
            doc = find_document(self.conn, at.path)
        except NotFound:
            if self.read_local_files and Path(at.path).is_file():
                return _query_from_file(Path(at.path), at.line)
            raise
        found = symbols_where(
            self.conn,
            "s.doc_id = ? AND s.start_line <= ? AND s.end_line >= ?"
            " AND s.id IN (SELECT symbol_id FROM code_fingerprints)",
            (doc.id, at.line, at.line), order="s.start_line DESC, s.end_line")
        if not found:
            raise NotFound(f"no function, method or type around {at.path}:{at.line}")
        return self._stored_query(found[0])

    def _stored_query(self, stored: StoredSymbol) -> _Query:
        row = self.conn.execute("SELECT shape, minhash FROM code_fingerprints"
                                " WHERE symbol_id = ?", (stored.id,)).fetchone()
        if row is None:
            raise NotFound(f"{stored.symbol.qualified_name} has no shape fingerprint "
                           "(only functions, methods and types have one)")
        signature = None if row[1] is None else np.frombuffer(row[1], dtype=np.uint8)
        return _Query(stored.symbol, row[0], signature, stored.doc_id,
                      stored.symbol.start_line, stored.symbol.end_line)

    # -- analogy ----------------------------------------------------------------------------

    def analogy(self, example: StoredSymbol, to_type: str, from_type: str | None = None,
                *, limit: int = 10) -> AnalogyResult:
        """Code like ``example`` but for ``to_type``: the definition playing the example's
        role for another type (``save_user`` → ``save_order``, ``UserView.render`` →
        ``OrderView.render``), ranked by name analogy and shape similarity."""
        source = from_type or self._guess_type(example)
        if not source:
            raise InvalidRequest(f"cannot tell which type {example.symbol.qualified_name} is "
                                 "about: name it with from_type", param="from_type")
        expected = swap_words(example.symbol.qualified_name, source, to_type)
        expected_name = swap_words(example.symbol.name, source, to_type)
        query = self._stored_query(example)
        similar = {h.symbol.id: h.score for h in self._rank(query, 500, 0.0, None, False)}
        target_words = fold(to_type)
        candidates: dict[int, StoredSymbol] = {}
        for stored in symbols_named(self.conn, expected_name):
            candidates[stored.id] = stored
        for stored in symbols_where(self.conn, "n.folded LIKE ? ESCAPE '\\'",
                                    ("%" + target_words + "%",)):
            candidates.setdefault(stored.id, stored)
        for stored in symbols_by_id(self.conn, [i for i, s in similar.items() if s >= 0.4])\
                .values():
            candidates.setdefault(stored.id, stored)
        hits = []
        for stored in candidates.values():
            if stored.id == example.id:
                continue
            symbol, reasons, points = stored.symbol, [], 0.0
            if symbol.qualified_name == expected or fold(symbol.qualified_name) == fold(expected):
                points += 0.6
                reasons.append(f"qualified name is {expected}")
            elif symbol.name == expected_name or fold(symbol.name) == fold(expected_name):
                points += 0.5
                reasons.append(f"name is {expected_name}")
            elif target_words in fold(symbol.qualified_name):
                points += 0.2
                reasons.append(f"name mentions {to_type}")
            shape = similar.get(stored.id, 0.0)
            if shape:
                points += 0.4 * shape
                reasons.append(f"shape similarity {shape:.2f}")
            if symbol.kind == example.symbol.kind:
                points += 0.05
            if symbol.language == example.symbol.language:
                points += 0.1
            if points >= 0.25:
                hits.append(AnalogyHit(stored.scored(points), round(points, 4), reasons))
        hits.sort(key=lambda h: (-h.score, h.symbol.path, h.symbol.start_line))
        return AnalogyResult(example.symbol, source, to_type, expected, hits[:limit])

    def _guess_type(self, example: StoredSymbol) -> str | None:
        """The type an example is about: its class, else a type its name is built on."""
        if example.parent_id is not None:
            parent = symbols_by_id(self.conn, [example.parent_id]).get(example.parent_id)
            if parent is not None and parent.symbol.kind in ("class", "struct", "interface",
                                                             "trait", "impl"):
                return parent.symbol.name
        qualified = example.symbol.qualified_name.replace("::", ".")
        if "." in qualified:
            return qualified.rsplit(".", 1)[0].rsplit(".", 1)[-1]
        name_words = words(example.symbol.name)
        for (type_name,) in self.conn.execute(
                "SELECT DISTINCT n.name FROM code_symbols s JOIN code_names n ON n.id = s.name_id"
                " WHERE s.kind IN ('class', 'struct', 'interface', 'trait', 'enum', 'type')"):
            type_words = words(type_name)
            if type_words and _contains(name_words, type_words):
                return str(type_name)
        return None


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i:i + len(needle)] == needle
               for i in range(len(haystack) - len(needle) + 1))


_PIECE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^A-Za-z\d]+")


def swap_words(name: str, old: str, new: str) -> str:
    """``name`` with the words of type ``old`` replaced by those of ``new``, in the same
    naming convention: (``save_user``, User, Order) → ``save_order``; ``UserView`` →
    ``OrderView``; ``USER_KEY`` → ``ORDER_KEY``."""
    old_words, new_words = words(old), words(new)
    if not old_words or not new_words:
        return name
    pieces = _PIECE.findall(name)
    word_slots = [i for i, p in enumerate(pieces) if p[0].isalnum()]
    lowered = [pieces[i].lower() for i in word_slots]
    for start in range(len(lowered) - len(old_words) + 1):
        if lowered[start:start + len(old_words)] != old_words:
            continue
        slots = word_slots[start:start + len(old_words)]
        template = pieces[slots[0]]
        separator = "_" if any("_" in pieces[i] for i in range(slots[0], slots[-1])) else ""
        rendered = [_styled(w, template, first=k == 0) for k, w in enumerate(new_words)]
        replacement = separator.join(rendered)
        return "".join(pieces[:slots[0]]) + replacement + "".join(pieces[slots[-1] + 1:])
    return name


def _styled(word: str, template: str, *, first: bool) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper() or not first:
        return word[:1].upper() + word[1:]
    return word


def _query_from_file(path: Path, line: int) -> _Query:
    """A query from a file that is not ingested: parse it now."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}", param="path") from exc
    language = detect_language(path, text[:4096].encode("utf-8"))
    spec = language_spec(language)
    if spec is None:
        raise InvalidRequest(f"{path} is {language}, which code intelligence does not parse",
                             param="path")
    facts = extract(spec, text)
    around = [d for d in facts.definitions
              if d.kind in FINGERPRINTED_KINDS and d.start_line <= line <= d.end_line
              and d.shape is not None]
    if not around:
        raise NotFound(f"no function, method or type around {path}:{line}")
    best: Definition = max(around, key=lambda d: d.start_line)
    symbol = Symbol(0, best.name, best.qualified_name, best.kind, language, str(path.resolve()),
                    best.start_line, best.start_col, best.end_line, best.end_col, best.name_line,
                    best.name_col, best.signature, best.doc)
    signature = None if best.minhash is None else np.frombuffer(best.minhash, dtype=np.uint8)
    return _Query(symbol, best.shape or 0, signature, None, best.start_line, best.end_line)
