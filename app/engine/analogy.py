"""Lines written the way the lines around them are: ``from .core import Option as Option``
after a run of ``from .x import Name as Name``.

The model predicts a token from the tokens before it, so it can copy a phrase it has seen
but not a *pattern* that repeats a name the line itself introduced: after
``from .core import Option as`` it offers the name the last such line repeated, not
``Option``. :func:`analogies` reads the pattern off the nearby lines instead: a line of the
same shape (the same lexemes, where names may differ, each consistently) that runs on past
the candidate shows how the candidate goes on, with the candidate's names in place of its
own. The candidate's own way of ending and the analogy's are then two predictions to mix
(app/engine/policy.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

_LEXEME = re.compile(r"[^\W\d]\w*|\d+|[ \t]+|.")
# Lines around the cursor compared (above it, and below it in a suffix).
NEARBY_LINES = 40
# A line's lexemes compared at most (longer lines are not aligned).
MAX_LEXEMES = 64


def _lexemes(line: str) -> list[str]:
    return _LEXEME.findall(line)


def _is_name(lexeme: str) -> bool:
    return lexeme[0].isalpha() or lexeme[0] == "_"


@dataclass(frozen=True)
class Analogy:
    """How the nearby lines shaped like a candidate go on: ``ended`` of them end where it
    does, and ``extensions`` maps each way the others go on (with the candidate's names) to
    how many do."""

    ended: int
    extensions: Counter[str]

    @property
    def aligned(self) -> int:
        return self.ended + sum(self.extensions.values())


def nearby_lines(prompt_text: str, suffix: str | None) -> list[list[str]]:
    """The lexemes of the lines around the cursor (not the cursor's own)."""
    above = prompt_text.split("\n")[-NEARBY_LINES - 1:-1]
    below = (suffix or "").split("\n")[1:NEARBY_LINES // 4 + 1]
    return [lexemes for line in above + below
            if line.strip() and len(lexemes := _lexemes(line)) <= MAX_LEXEMES]


def analogy(line: str, nearby: list[list[str]]) -> Analogy | None:
    """The nearby lines that have ``line``'s shape with at least one name in it replaced
    (the pattern is in the replacement: a line that is the same is a copy, which the
    model predicts already), or None when there is none."""
    if line.lstrip(" \t").startswith(COMMENT_STARTS):
        return None
    mine = _lexemes(line.rstrip("\n"))
    if not mine or len(mine) > MAX_LEXEMES:
        return None
    ended = 0
    extensions: Counter[str] = Counter()
    for theirs in nearby:
        if len(theirs) < len(mine):
            continue
        names = _substitution(theirs[:len(mine)], mine)
        if not names:
            continue
        rest = theirs[len(mine):]
        if not rest:
            ended += 1
        elif any(lexeme in names for lexeme in rest):
            extensions["".join(names.get(lexeme, lexeme) for lexeme in rest)] += 1
    if not extensions:
        return None
    return Analogy(ended, extensions)


def _substitution(theirs: list[str], mine: list[str]) -> dict[str, str] | None:
    """Their names that differ from mine, mapped one to one to mine, when the lexemes are
    otherwise equal (a name kept as it is stays itself throughout); None when they are not,
    or when no name differs."""
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(theirs, mine, strict=True):
        if a != b and not (_is_name(a) and _is_name(b)):
            return None
        if _is_name(a) and (forward.setdefault(a, b) != b or backward.setdefault(b, a) != a):
            return None
    changed = {a: b for a, b in forward.items() if a != b}
    return changed or None


# Candidates (the likeliest that ended their line) whose analogies are looked for.
CANDIDATES = 4
# What starts a comment line: prose, where a word in place of another is no pattern.
COMMENT_STARTS = ("#", "//", "/*", "*", "--")


def mixed(model_logprob: float, prefix_logprob: float, share: float) -> float:
    """log of P_model(line) + P(the candidate's text)·share: the model's probability of a
    line plus the analogy's, which takes the candidate's text as the model has it
    (``prefix_logprob``) and says how it goes on (``share``, see :func:`shares`). A mixture
    scales every line's model probability alike, which no ranking sees, so it is this
    sum."""
    if share <= 0:
        return model_logprob
    return float(np.logaddexp(model_logprob, math.log(share) + prefix_logprob))


def shares(found: Analogy) -> tuple[float, dict[str, float]]:
    """The analogy's weight on the candidate ending where it does, and on each way it goes
    on: the share of the aligned lines that do so (out of one more than there are: a
    pattern seen once is a hint), times how many lines align, each one as strong a witness
    as the model (the analogy's weight in the mixture grows with its evidence: n : 1)."""
    aligned = found.aligned
    total = aligned + 1
    return (aligned * found.ended / total,
            {text: aligned * count / total for text, count in found.extensions.items()})
