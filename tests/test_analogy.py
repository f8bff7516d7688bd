"""Lines that go on the way nearby lines of the same shape do (app/engine/analogy.py)."""

from __future__ import annotations

import math

from app.engine.analogy import Analogy, analogy, mixed, nearby_lines, shares

REEXPORTS = """\
from .core import Argument as Argument
from .core import Command as Command
from .core import Group as Group
import os
"""


def test_a_run_of_reexports_shows_how_the_next_one_goes_on() -> None:
    found = analogy("from .core import Option", nearby_lines(REEXPORTS, None))
    assert found == Analogy(0, found.extensions) and dict(found.extensions) == {" as Option": 3}
    ends, goes_on = shares(found)
    assert ends == 0 and goes_on == {" as Option": 3 * 0.75}


def test_lines_below_the_cursor_count_too() -> None:
    found = analogy("export { map } from './operators", nearby_lines(
        "", "\nexport { filter } from './operators/filter';\n"))
    assert found is not None and dict(found.extensions) == {"/map';": 1}


def test_a_name_must_be_replaced_consistently_and_reappear() -> None:
    near = nearby_lines(REEXPORTS, None)
    # Its own line is a copy, not a pattern: only the other two count.
    found = analogy("from .core import Argument", near)
    assert found is not None and dict(found.extensions) == {" as Argument": 2}
    assert analogy("import sys", near) is None  # the same shape, but it ends there
    # Argument -> Option at one place and -> Other at another is no substitution.
    assert analogy("from .core import Option as Other",
                   nearby_lines("from .core import Argument as Argument as Argument\n",
                                None)) is None
    assert analogy("x = compute(", near) is None


def test_comments_are_prose_not_patterns() -> None:
    near = nearby_lines("# the core import Argument as Argument\n", None)
    assert analogy("# the core import Option", near) is None


def test_the_mixture_adds_the_analogys_probability_to_the_models() -> None:
    assert mixed(-5.0, -1.0, 0.0) == -5.0
    assert math.isclose(mixed(-5.0, -1.0, 0.5), math.log(math.exp(-5.0) + 0.5 * math.exp(-1.0)))
