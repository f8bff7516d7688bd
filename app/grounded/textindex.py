"""A word index over what the code says about itself, for "how do I…" and "what … does".

The trigram index finds substrings; a question in words needs words. Each definition is a
small document of the words of its name (``parse_http_response`` → parse, http, response;
counted three times: a name is the best summary of what code does), its owner's name, the
opening of its docstring and its signature's parameter names. Each paragraph of a prose document
(Markdown, reStructuredText, plain text) is a document too. Words are lower-cased, stemmed
(Snowball's English stemmer, through PyStemmer: "returns", "returned" and "returning"
meet) and stop words dropped; documents are ranked by BM25 (k1 1.2, b 0.75) with numpy
over per-word postings, so a query costs a few array additions however large the index is.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import Stemmer  # PyStemmer: the Snowball stemmers in C, with a cache

K1, B = 1.2, 0.75
NAME_WEIGHT = 3
PROSE_LANGUAGES = ("markdown", "restructuredtext", "text")
MAX_PARAGRAPH_CHARS = 2000

_STOP_TEXT = """
a an the and or but if then else of to in on at by for with from into onto as is are was were
be been being do does did done doing have has had having i me my we our you your he she it its
they them their this that these those there here what which who whom whose when where why how
can could should would may might must shall will just also not no so than too very any some
all each every such own same other more most much many few only please thanks thank want need
like got way code function method class python file using
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
# Words of prose and of identifiers in every naming convention at once (what
# app.code.names.words does per identifier): parseHTTPResponse_v2 → parse HTTP Response v 2.
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_stemmer = Stemmer.Stemmer("english")
# Each distinct word's term ("" for a stop word); words repeat across definitions endlessly.
_TERMS: dict[str, str] = {}
MAX_CACHED_WORDS = 200_000


def terms(text: str) -> list[str]:
    """The index terms of ``text``: identifiers split into words, stemmed, stop words out."""
    found: list[str] = []
    cache = _TERMS
    for word in _WORDS.findall(text):
        term = cache.get(word)
        if term is None:
            lower = word.lower()
            term = "" if (len(lower) < 2 and not lower.isdigit()) or lower in STOP_WORDS \
                else _stemmer.stemWord(lower)
            if len(cache) < MAX_CACHED_WORDS:
                cache[word] = term
        if term:
            found.append(term)
    return found


@dataclass(frozen=True)
class Entry:
    """One indexed document: a definition (``symbol_id``) or a prose paragraph."""

    symbol_id: int | None
    doc_id: int
    line: int          # first line (the paragraph's, or the definition's)
    end_line: int


class TextIndex:
    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        self._lengths: list[int] = []
        self._frozen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._length_array = np.zeros(0)

    def add(self, entry: Entry, weighted_terms: Iterable[tuple[list[str], int]]) -> None:
        all_terms: list[str] = []
        for words, weight in weighted_terms:
            all_terms.extend(words * weight)
        if not all_terms:
            return
        index = len(self.entries)
        self.entries.append(entry)
        self._lengths.append(len(all_terms))
        postings = self._postings
        for word, count in Counter(all_terms).items():
            ids, tfs = postings[word]
            ids.append(index)
            tfs.append(count)

    def freeze(self) -> TextIndex:
        self._frozen = {w: (np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float64))
                        for w, (ids, tfs) in self._postings.items()}
        self._postings.clear()
        self._length_array = np.array(self._lengths, dtype=np.float64)
        return self

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query_terms: list[str], limit: int = 10) -> list[tuple[Entry, float]]:
        """The best entries for the query's terms, by BM25, best first."""
        n = len(self.entries)
        if not n or not query_terms:
            return []
        scores = np.zeros(n)
        average = float(self._length_array.mean())
        norm = K1 * (1 - B + B * self._length_array / average)
        for word in set(query_terms):
            posting = self._frozen.get(word)
            if posting is None:
                continue
            ids, tfs = posting
            idf = math.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))
            scores[ids] += idf * tfs * (K1 + 1) / (tfs + norm[ids])
        top = min(limit, int(np.count_nonzero(scores)))
        if top == 0:
            return []
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.lexsort((best, -scores[best]))]
        return [(self.entries[i], float(scores[i])) for i in best]

    def idf(self, word: str) -> float:
        posting = self._frozen.get(word)
        found = 0 if posting is None else len(posting[0])
        n = len(self.entries)
        return math.log(1 + (n - found + 0.5) / (found + 0.5))


def paragraphs(text: str) -> Iterable[tuple[int, int, str]]:
    """(first line, last line, text) of each blank-line-separated paragraph."""
    start = None
    lines: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            if start is None:
                start = number
            lines.append(line)
            continue
        if start is not None:
            yield start, number - 1, "\n".join(lines)[:MAX_PARAGRAPH_CHARS]
            start, lines = None, []
    if start is not None:
        yield start, start + len(lines) - 1, "\n".join(lines)[:MAX_PARAGRAPH_CHARS]
