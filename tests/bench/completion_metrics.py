"""Scoring completions against their cases, and the figures per language and kind of case.

- exact match: a line case compares the completion up to its first newline with the rest of
  the line; a block case compares the whole completion with the block (trailing whitespace
  stripped on both sides in either case).
- edit similarity: Levenshtein distance normalised to 0–100 (rapidfuzz); the JSON also keeps
  CodeXGLUE's ``fuzz.ratio`` (an insert/delete distance) for comparison with its leaderboard.
- parses: prefix + completion + suffix has no more ERROR/MISSING nodes than the file had.
- foreign identifiers: identifiers the completion writes that the hypercube holds only in
  files of other languages (neither in the case's own language nor in the case's file).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from app.detect import detect_language
from tests.bench.completion_cases import Case, parse, syntax_errors

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def compared(case: Case, text: str) -> str:
    """The part of a completion (or a target) that is compared for this kind of case."""
    if case.kind == "block":
        return text.rstrip()
    return text.split("\n", 1)[0].rstrip()


class IdentifierLanguages:
    """Which languages' files of the hypercube each identifier occurs in."""

    def __init__(self, files: Iterable[Path]) -> None:
        self.names: dict[str, set[str]] = {}
        for path in files:
            language = detect_language(path)
            if language in ("text", "markdown", "restructuredtext"):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            self.names.setdefault(language, set()).update(IDENTIFIER.findall(text))
        self._document: dict[int, set[str]] = {}

    def completed(self, case: Case, text: str) -> list[str]:
        """The identifiers a completion writes (a cut identifier counts whole)."""
        if case.kind == "block":
            return IDENTIFIER.findall(text)
        line = case.typed + text
        return [m.group() for m in IDENTIFIER.finditer(line) if m.end() > len(case.typed)]

    def foreign(self, case: Case, names: list[str]) -> int:
        own = self.names.get(case.language, set())
        document = self._document.get(id(case))
        if document is None:
            document = set(IDENTIFIER.findall(case.prefix)) | set(IDENTIFIER.findall(case.suffix))
            self._document[id(case)] = document
        return sum(1 for name in names if name not in own and name not in document
                   and any(name in names_ for language, names_ in self.names.items()
                           if language != case.language))


@dataclass(frozen=True)
class Outcome:
    language: str
    variant: str  # mid_plain, mid_fim, start_plain, start_fim, block
    seconds: float
    exact: bool
    similarity: float
    similarity_indel: float
    baseline_exact: bool
    baseline_similarity: float
    parses: bool | None
    identifiers: int
    foreign: int


def score(case: Case, variant: str, completion: str, seconds: float,
          identifiers: IdentifierLanguages) -> Outcome:
    got, want, base = compared(case, completion), compared(case, case.target), \
        compared(case, case.baseline)
    parses = None
    if case.kind == "block":
        tree = parse(case.language, case.prefix + completion + case.suffix)
        parses = syntax_errors(tree) <= case.file_errors
    names = identifiers.completed(case, got)
    return Outcome(case.language, variant, seconds, got == want,
                   Levenshtein.normalized_similarity(got, want) * 100, fuzz.ratio(got, want),
                   base == want, Levenshtein.normalized_similarity(base, want) * 100, parses,
                   len(names), identifiers.foreign(case, names))


def _percentile_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 1)


def summarize(outcomes: list[Outcome]) -> dict[str, object]:
    if not outcomes:
        return {"cases": 0}
    n = len(outcomes)
    exact = 100 * sum(o.exact for o in outcomes) / n
    baseline = 100 * sum(o.baseline_exact for o in outcomes) / n
    identifiers = sum(o.identifiers for o in outcomes)
    checked = [o.parses for o in outcomes if o.parses is not None]
    return {
        "cases": n,
        "exact_match": round(exact, 1),
        "edit_similarity": round(statistics.fmean(o.similarity for o in outcomes), 1),
        "edit_similarity_indel": round(statistics.fmean(o.similarity_indel for o in outcomes), 1),
        "baseline_exact_match": round(baseline, 1),
        "baseline_edit_similarity": round(
            statistics.fmean(o.baseline_similarity for o in outcomes), 1),
        "exact_match_over_baseline": round(exact / baseline, 2) if baseline else None,
        "parses": round(100 * sum(checked) / len(checked), 1) if checked else None,
        "identifiers": identifiers,
        "foreign_identifiers": round(100 * sum(o.foreign for o in outcomes) / identifiers, 2)
        if identifiers else 0.0,
        "p50_ms": _percentile_ms([o.seconds for o in outcomes], 0.5),
        "p99_ms": _percentile_ms([o.seconds for o in outcomes], 0.99),
    }
