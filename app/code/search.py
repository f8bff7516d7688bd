r"""Code search: substring, regular expression and identifier modes.

Substring and regex searches ask the trigram index for documents containing every trigram
of the query's literal parts (a superset of the matches: the index keeps no positions),
best BM25 first, then confirm each match in the document's text. Identifier search finds
definitions whose name matches in any naming convention (``get_user_name`` finds
``getUserName``), so one query searches Python, JavaScript, Go… alike.

Regular expressions run on RE2 (``google-re2``), whose matching time is linear in the text:
Python's backtracking ``re`` took 50+ minutes on ``(\s+)+[^\s\w]{9}`` and held the GIL
all along. RE2 refuses what needs backtracking (backreferences, lookaround) with a clear 400.
Every query also has a budget of time and of text scanned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import apsw
import re2

if TYPE_CHECKING:
    # typeshed describes these modules under their public names, which warn on import
    # since Python 3.11: at run time they come from re itself.
    import sre_constants
    import sre_parse
else:
    from re import _constants as sre_constants
    from re import _parser as sre_parse  # the stdlib's own regex parser, to find literal runs

from app.code.locate import escape_like
from app.code.names import fold
from app.code.results import SearchHit
from app.code.symbols import symbols_where
from app.code.texts import DocumentText, DocumentTexts
from app.errors import InvalidRequest

MODES = ("substring", "regex", "identifier")
CANDIDATE_DOCUMENTS = 400
SNIPPET_CHARS = 200
MAX_PATTERN_CHARS = 1000


@dataclass(frozen=True)
class Budget:
    """How much one search may do before it is refused (400 ``query_too_expensive``)."""

    seconds: float = 5.0
    text_bytes: int = 256_000_000


class _Spending:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget.seconds
        self.scanned = 0

    def spend(self, chars: int) -> None:
        self.scanned += chars
        if self.scanned > self.budget.text_bytes or time.monotonic() > self.deadline:
            raise InvalidRequest(
                f"this search needs more than its budget ({self.budget.seconds:g} s, "
                f"{self.budget.text_bytes // 1_000_000} MB of text): give a longer literal "
                "part, or narrow it with language=", param="query", code="query_too_expensive")


def _re2_options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = 64 << 20  # a pattern whose automaton needs more is refused
    return options


def compile_regex(pattern: str, case_sensitive: bool) -> Any:
    """``pattern`` as an RE2 regex with ``^``/``$`` matching at line ends."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidRequest(f"the regular expression is longer than {MAX_PATTERN_CHARS} "
                             "characters", param="query")
    try:
        return re2.compile("(?m)" + pattern, _re2_options(case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidRequest(
            f"invalid regular expression: {reason} (the regex search uses RE2 syntax: no "
            "backreferences or lookaround)", param="query") from exc


def trigram_query(literals: list[str]) -> str | None:
    trigrams = sorted({lit[i:i + 3].lower() for lit in literals for i in range(len(lit) - 2)})
    if not trigrams:
        return None
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in trigrams)


def regex_literals(pattern: str, flags: int = 0) -> list[str]:
    """Literal runs every match of ``pattern`` must contain (for the trigram prefilter).

    Python's parser reads the syntax RE2 shares with it; for RE2-only syntax it finds
    nothing and every document is a candidate (still correct, only slower).
    """
    try:
        parsed = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return []
    runs: list[str] = []
    _collect(parsed.data, runs)
    return [r for r in runs if len(r) >= 3]


def _collect(items: list, runs: list[str]) -> None:
    current: list[str] = []
    for op, arg in items:
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
            continue
        if current:
            runs.append("".join(current))
            current = []
        if op is sre_constants.SUBPATTERN:
            _collect(list(arg[-1]), runs)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            # The repeated item occurs at least once: its own literals are required.
            _collect(list(arg[2]), runs)
    if current:
        runs.append("".join(current))


class Searcher:
    def __init__(self, conn: apsw.Connection, texts: DocumentTexts,
                 budget: Budget | None = None) -> None:
        self.conn = conn
        self.texts = texts
        self.budget = budget or Budget()

    def search(self, query: str, *, mode: str = "substring", case_sensitive: bool = False,
               language: str | None = None, limit: int = 50, per_file: int = 5,
               context: int = 0) -> list[SearchHit]:
        if not query:
            raise InvalidRequest("the search query is empty", param="query")
        if mode not in MODES:
            raise InvalidRequest(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}",
                                 param="mode")
        if mode == "identifier":
            return self._identifier(query, language, limit)
        if "\x00" in query:
            raise InvalidRequest("the search query must not contain NUL bytes", param="query")
        if mode == "regex":
            pattern = compile_regex(query, case_sensitive)
            literals = regex_literals(query, 0 if case_sensitive else re.IGNORECASE)
        else:
            literals = [query]
            pattern = re2.compile(re2.escape(query), _re2_options(case_sensitive))
        spending = _Spending(self.budget)
        hits: list[SearchHit] = []
        for rank, (doc_id, path, doc_language) in enumerate(
                self._candidates(literals, language)):
            text = self.texts.get(doc_id)
            spending.spend(len(text.text))
            found = self._matches(text, pattern, path, doc_language, rank, per_file, context)
            hits.extend(found)
            if len(hits) >= limit * 3:
                break
        hits.sort(key=lambda h: (-h.score, h.path, h.line))
        return self._with_symbols(hits[:limit])

    def _candidates(self, literals: list[str], language: str | None):
        match = trigram_query(literals)
        filter_sql = " AND d.language = ?" if language else ""
        extra = (language,) if language else ()
        if match is None:
            # Nothing long enough to use the index: every document is a candidate.
            yield from self.conn.execute(
                f"SELECT d.id, d.path, d.language FROM documents d WHERE 1{filter_sql}"
                " ORDER BY d.path", extra)
            return
        yield from self.conn.execute(
            "SELECT d.id, d.path, d.language FROM code_fts JOIN documents d"
            f" ON d.id = code_fts.rowid WHERE code_fts MATCH ?{filter_sql}"
            f" ORDER BY code_fts.rank LIMIT {CANDIDATE_DOCUMENTS}", (match, *extra))

    @staticmethod
    def _matches(text: DocumentText, pattern: Any, path: str, language: str,
                 rank: int, per_file: int, context: int) -> list[SearchHit]:
        hits: list[SearchHit] = []
        last_line = 0
        for match in pattern.finditer(text.text):
            if match.start() == match.end():
                continue
            line, column = text.position(match.start())
            if line == last_line:
                continue
            last_line = line
            line_text = text.line(line)
            # Earlier documents (better BM25) first; inside one, a whole-word match and a
            # line that defines something rank higher.
            score = 1.0 / (1 + rank)
            word = match.group()
            before = line_text[column - 2] if column > 1 else " "
            after_index = column - 1 + len(word)
            after = line_text[after_index] if after_index < len(line_text) else " "
            if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                score += 0.5
            if re.match(r"\s*(def|class|func|fn|function|struct|interface|type|impl|trait|"
                        r"public|private|protected|static|export)\b", line_text):
                score += 0.25
            around = [text.line(n) for n in range(max(1, line - context), line + context + 1)
                      if n != line] if context else []
            hits.append(SearchHit(path, language, line, column, word[:SNIPPET_CHARS],
                                  line_text.strip()[:SNIPPET_CHARS], round(score, 4),
                                  context=around))
            if len(hits) >= per_file:
                break
        return hits

    def _with_symbols(self, hits: list[SearchHit]) -> list[SearchHit]:
        """Name the innermost definition each hit is in."""
        result = []
        for hit in hits:
            row = self.conn.execute(
                "SELECT s.qualified_name FROM code_symbols s JOIN documents d ON d.id = s.doc_id"
                " WHERE d.path = ? AND s.start_line <= ? AND s.end_line >= ?"
                " ORDER BY s.start_line DESC, s.end_line LIMIT 1",
                (hit.path, hit.line, hit.line)).fetchone()
            result.append(replace(hit, symbol=row[0] if row else None))
        return result

    def _identifier(self, query: str, language: str | None, limit: int) -> list[SearchHit]:
        folded = fold(query)
        if not folded:
            raise InvalidRequest("an identifier search needs letters or digits", param="query")
        where = ("s.name_id IN (SELECT id FROM code_names WHERE folded = ?1"
                 " OR folded LIKE ?2 ESCAPE '\\')")
        bindings: tuple = (folded, "%" + escape_like(folded) + "%")
        if language:
            where += " AND f.language = ?3"
            bindings = (*bindings, language)
        found = symbols_where(self.conn, where, bindings)
        hits = []
        for stored in found:
            symbol = stored.symbol
            name_folded = fold(symbol.name)
            score = 1.0 if name_folded == folded else (
                0.75 if name_folded.startswith(folded) else 0.5)
            score += 0.1 * (symbol.name == query)
            hits.append(SearchHit(symbol.path, symbol.language, symbol.name_line,
                                  symbol.name_col, symbol.name, symbol.signature[:SNIPPET_CHARS],
                                  round(score, 4), symbol.qualified_name))
        hits.sort(key=lambda h: (-h.score, len(h.match), h.path, h.line))
        return hits[:limit]
