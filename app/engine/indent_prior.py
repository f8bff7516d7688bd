"""How deep the line started at the cursor is likely to be indented, learnt from the file.

The model writes a line break and the next line's indentation as one token, chosen from the
few tokens before it: at the end of a long line it no longer sees how deep that line was, so
it offers a line at the depth its training data likes after ``= null;`` (a doc comment's
`` *``, a top-level ``import``) as readily as one under the line above. The file itself
says how its lines follow each other: after a line that opens a block the next one is a
step deeper, after a statement it keeps the depth, a closing bracket steps back. Counting
those steps in the prompt's own lines, by what the line above ends with and whether the new
line starts with a closing bracket, gives a prior over the new line's indentation that the
search adds to a candidate's score once its first character shows the depth.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass

from app.engine.scope import code_before_comment, indent_width

# Lines above the cursor counted (the file's habits show in a few hundred).
PRIOR_LINES = 400
# Pseudo-counts pulling a line class's steps towards those of all lines with the same
# closing-bracket start, and those towards a flat floor.
CLASS_PRIOR = 4.0
FLOOR = 0.05


def line_class(line: str) -> str:
    """What a line ends with, as far as the next line's depth goes."""
    stripped = line.strip()
    if stripped.startswith(("/*", "*")) and not stripped.endswith("*/"):
        return "comment"          # inside a block comment: its lines keep a ` * ` margin
    if stripped.startswith(("//", "#")):
        return "line-comment"
    code = code_before_comment(stripped)
    if not code:
        return "other"
    last = code[-1]
    if last in "{([:" or code.endswith("=>"):
        return "opens"
    if last == ",":
        return "comma"
    if last in ";})]":
        return "ends"
    return "other"


def _closing(line: str) -> bool:
    return line.lstrip()[:1] in (")", "]", "}")


@dataclass
class IndentPrior:
    """Log-probabilities (nats) of the new line's step in depth from the line above it, for
    a line that starts with a closing bracket and for one that does not (whether one comes
    is the model's to judge: it sees the code; what it does not see is the depth)."""

    above: int                    # the depth of the non-blank line above the cursor
    steps: dict[bool, dict[int, float]]
    unseen: dict[bool, float]     # ... of a step the file never takes
    # With a suffix, the depth of its first non-blank line and the log-probabilities of the
    # step from any line to one like it (the new line's own kind is not known yet).
    below: int | None = None
    below_steps: dict[int, float] | None = None
    below_unseen: float = 0.0

    def cost(self, line: str) -> float:
        """How far (nats, ≥ 0) ``line``'s depth is below the likeliest one for a line of its
        kind here."""
        closing = _closing(line)
        steps = self.steps[closing]
        depth = indent_width(line)
        cost = max(steps.values()) - steps.get(depth - self.above, self.unseen[closing])
        if self.below is not None and self.below_steps:
            cost += max(self.below_steps.values()) - self.below_steps.get(
                self.below - depth, self.below_unseen)
        return cost


def indent_prior(prompt_text: str, suffix: str | None = None) -> IndentPrior | None:
    """The prior for the line the cursor starts (the prompt ends at a line start), or None
    when the prompt shows too few lines to learn from. With ``suffix`` the line below
    counts too."""
    lines = prompt_text.split("\n")
    if lines[-1].strip() or len(lines) < 3:
        return None
    code_lines = [line for line in lines[-PRIOR_LINES - 1:-1] if line.strip()]
    if len(code_lines) < 2:
        return None
    # Each pair of lines in a row: what the first ends with, whether the second closes a
    # bracket, and the step in depth between them.
    pairs = [(line_class(previous), _closing(line), indent_width(line) - indent_width(previous))
             for previous, line in itertools.pairwise(code_lines)]
    kind = line_class(code_lines[-1])
    steps: dict[bool, dict[int, float]] = {}
    unseen: dict[bool, float] = {}
    for closing in (False, True):
        overall = Counter(step for _, closer, step in pairs if closer == closing)
        here = Counter(step for klass, closer, step in pairs
                       if closer == closing and klass == kind)
        seen = set(overall) | {0}
        total, local = sum(overall.values()), sum(here.values())
        floor = FLOOR / len(seen)
        back = {step: (overall[step] + floor) / (total + FLOOR) for step in seen}
        steps[closing] = {step: math.log((here[step] + CLASS_PRIOR * back[step])
                                         / (local + CLASS_PRIOR)) for step in seen}
        unseen[closing] = math.log(CLASS_PRIOR * floor / (total + FLOOR)
                                   / (local + CLASS_PRIOR))
    prior = IndentPrior(indent_width(code_lines[-1]), steps, unseen)
    below = _line_below(suffix)
    if below is not None:
        # Any line to one like the line below (the new line's own kind is not known yet).
        into = Counter(step for _, closer, step in pairs if closer == _closing(below))
        total = sum(into.values())
        if total:
            prior.below = indent_width(below)
            prior.below_steps = {step: math.log((n + FLOOR) / (total + FLOOR))
                                 for step, n in into.items()}
            prior.below_unseen = math.log(FLOOR / (total + FLOOR))
    return prior


def _line_below(suffix: str | None) -> str | None:
    """The suffix's first non-blank line after the cursor's, when the cursor's line holds
    nothing after the cursor (else the line being written is not a line of its own)."""
    if suffix is None:
        return None
    first, _, rest = suffix.partition("\n")
    if first.strip():
        return None
    return next((line for line in rest.split("\n") if line.strip()), None)
