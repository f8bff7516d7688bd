"""Fuzzy name resolution: what a user typed → the names the code index defines.

A user writes ``getEventLoop`` for ``get_event_loop``, ``event loop policy`` for
``EventLoopPolicy``, ``Store.write`` for a method, or ``get_evnet_loop`` with a typo. Each
is tried in that order of certainty, the first kind that finds anything winning:

1. exact: the name as typed is defined;
2. folded: equal once case and separators are dropped (:func:`app.code.names.fold`), which
   is how naming conventions meet (``get_user_name`` = ``getUserName`` = ``GetUserName``);
3. typo: within a small edit distance of a defined name's folded form (one edit for short
   names, up to three for long ones; an edit is an insertion, deletion, substitution or a
   swap of neighbours: RapidFuzz's optimal string alignment distance over every name).

A qualified name (``Class.method``, ``ns::f``, ``pkg.module.func``) resolves its last part
and keeps the rest as a qualifier, which the retrieval uses to narrow the definitions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import apsw
from rapidfuzz import distance, process

from app.code.names import fold

_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")
_QUALIFIED = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)+$")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
# Folded names shorter than this must match exactly: one edit of "len" is "lens", "leno"…
MIN_TYPO_LENGTH = 4
CANDIDATES = 8


def max_edits(folded: str) -> int:
    """Edits tolerated for a name of this folded length."""
    if len(folded) < MIN_TYPO_LENGTH:
        return 0
    if len(folded) <= 6:
        return 1
    return 2 if len(folded) <= 12 else 3


@dataclass(frozen=True)
class Resolved:
    """A defined name a user's text resolved to."""

    name: str                 # the short name as the code defines it
    qualifier: str | None     # ``Store`` of ``Store.write`` (as typed), else None
    how: str                  # "exact", "folded" or "typo"
    edits: int                # edit distance of the folded forms (0 unless a typo)

    @property
    def query(self) -> str:
        """The name for the code index (qualified when a qualifier was given)."""
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


class Lexicon:
    """Every name with a definition, by its folded form, and how often each is defined."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        by_folded: dict[str, list[str]] = defaultdict(list)
        for name in counts:
            by_folded[fold(name)].append(name)
        self.by_folded = dict(by_folded)
        self._folded = list(self.by_folded)

    @classmethod
    def load(cls, conn: apsw.Connection) -> Lexicon:
        return cls(dict(conn.execute(
            "SELECT n.name, count(*) FROM code_symbols s JOIN code_names n ON n.id = s.name_id"
            " GROUP BY s.name_id")))

    def __contains__(self, name: str) -> bool:
        return name in self.counts

    def resolve(self, text: str) -> list[Resolved]:
        """The defined names ``text`` may mean, best first (empty when none is close)."""
        text = text.strip().strip("`'\"").removesuffix("()").strip()
        if not text:
            return []
        if _QUALIFIED.match(text):
            parts = re.split(r"\.|::|#|->", text)
            qualifier = ".".join(parts[:-1])
            found = self._short(parts[-1])
            if found:
                return [Resolved(r.name, qualifier, r.how, r.edits) for r in found]
            # `module.func` where only the whole dotted text is one name is handled below.
        if _IDENTIFIER.match(text):
            return self._short(text)
        words = _WORD.findall(text)
        if 1 < len(words) <= 6:
            # "event loop policy" → EventLoopPolicy / event_loop_policy.
            return self._short("_".join(words))
        return []

    def _short(self, name: str) -> list[Resolved]:
        exact = [Resolved(name, None, "exact", 0)] if name in self.counts else []
        folded = fold(name)
        if not folded:
            return exact
        same = [Resolved(n, None, "folded", 0) for n in self._ranked(
            self.by_folded.get(folded, []), name) if n != name]
        if exact or same:
            return exact + same
        limit = max_edits(folded)
        if limit == 0:
            return []
        near = process.extract(folded, self._folded, scorer=distance.OSA.distance,
                               score_cutoff=limit, limit=CANDIDATES)
        near.sort(key=lambda hit: (hit[1], -sum(self.counts[n] for n in self.by_folded[hit[0]]),
                                   hit[0]))
        return [Resolved(n, None, "typo", int(edits)) for key, edits, _ in near
                for n in self._ranked(self.by_folded[key], name)]

    def _ranked(self, names: list[str], typed: str) -> list[str]:
        """Names sharing a folded form: the one written like the query first (same case),
        then public before private, then the most defined."""
        return sorted(names, key=lambda n: (n.lower() != typed.lower(), n.startswith("_"),
                                            -self.counts[n], n))
