"""The prior over the depth of the line the cursor starts, learnt from the file's own lines,
and its part in the line search's scores."""

from __future__ import annotations

import pytest

from app.engine.indent_prior import IndentPrior, indent_prior, line_class
from app.engine.search import INDENT_PRIOR_MAX, SearchPlan, _Beam, _extend

TYPESCRIPT = """export class Buffer<T> {
  private items: T[] = [];

  push(item: T): void {
    if (item !== undefined) {
      this.items.push(item);
      this.count += 1;
    }
    this.changed();
  }

  clear(): void {
    this.items = [];
    this.count = 0;
    this.changed();
  }

  size(): number {
    const length = this.items.length;
    return length;
  }
"""


def prior(prompt: str, suffix: str | None = None) -> IndentPrior:
    found = indent_prior(prompt, suffix)
    assert found is not None
    return found


@pytest.mark.parametrize("line, kind", [
    ("    if (x) {", "opens"), ("def f(a):", "opens"), ("    f(a,", "comma"),
    ("  return x;", "ends"), ("  }", "ends"), (" * a doc comment line", "comment"),
    ("    // note", "line-comment"), ("  x = y  # why", "other"),
])
def test_lines_are_told_apart_by_what_they_end_with(line: str, kind: str) -> None:
    assert line_class(line) == kind


def test_after_a_statement_the_line_keeps_its_depth() -> None:
    # A long line above: the model no longer sees its depth, the file's habit does.
    found = prior(TYPESCRIPT
                  + "  grow(by: number): void {\n    const next = this.items.length + by;\n")
    assert found.cost("    this.resize(next);") == 0.0
    assert found.cost("import { x } from 'y';") > 2.0     # the top level, inside a method
    assert found.cost(" * a doc comment line") > 2.0      # a comment nobody opened
    assert found.cost("      deeper();") > 1.0


def test_after_an_opener_the_line_is_one_step_deeper() -> None:
    found = prior(TYPESCRIPT + "  grow(by: number): void {\n")
    assert found.cost("    const next = by;") == 0.0
    assert found.cost("  const next = by;") > 0.5  # (four openers to learn from)


def test_a_closing_bracket_is_judged_among_closers_one_step_back() -> None:
    # Whether a line closes a block is the model's to say; where it goes is the file's.
    found = prior(TYPESCRIPT + "  grow(by: number): void {\n    this.resize(by);\n")
    assert found.cost("  }") == 0.0
    assert found.cost("    }") > 1.0


def test_the_line_below_the_cursor_counts_with_a_suffix() -> None:
    prompt = TYPESCRIPT + "  grow(by: number): void {\n    if (by > 0) {\n      this.resize(by);\n"
    alone = prior(prompt)
    # Below: a line two steps in from the method, so the new line is likely in the `if`
    # (then the next line keeps its depth), not a dedent out of it.
    above_and_below = prior(prompt, "\n      this.changed();\n    }\n")
    assert above_and_below.cost("      this.count += by;") == 0.0
    assert above_and_below.cost("    this.count += by;") > alone.cost("    this.count += by;")


@pytest.mark.parametrize("prompt", ["", "x = 1\n", TYPESCRIPT + "  grow("])
def test_no_prior_mid_line_or_without_lines_to_learn_from(prompt: str) -> None:
    assert indent_prior(prompt) is None


def test_the_search_takes_the_prior_off_the_lines_score_once_the_depth_shows() -> None:
    found = prior(TYPESCRIPT + "  grow(by: number): void {\n    const next = by;\n")
    plan = SearchPlan(scope="line", required=b"", block=None, suffix_line=None, stops=[],
                      width=3, budget=4, at_line_start=True, indent_prior=found)
    start = _Beam(None, [], [], 0.0, b"")  # type: ignore[arg-type]  # (no session read)
    pieces = [b"    this", b"import", b"  "]
    right, wrong = _extend(start, 0, -1.0, pieces, plan), _extend(start, 1, -1.0, pieces, plan)
    assert right is not None and right.logprob == -1.0
    assert wrong is not None
    assert wrong.logprob == pytest.approx(-1.0 - min(found.cost("import"), INDENT_PRIOR_MAX))
    blank = _extend(start, 2, -1.0, pieces, plan)     # blanks only: not judged yet
    assert blank is not None and blank.logprob == -1.0
