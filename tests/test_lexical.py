"""The lexical scanner that tells ranking where a candidate's code is (app/engine/lexical.py),
and what ranking does with it: prose is not judged as code."""

from __future__ import annotations

import pytest

from app.engine import lexical
from app.engine.ranking import Ranker, Scored


class Known:
    """A code index that knows the given names."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def __bool__(self) -> bool:
        return True

    def __contains__(self, name: str) -> bool:
        return name in self.names


@pytest.mark.parametrize(("language", "text", "code"), [
    ("python", 'x = "a # b"  # c d\ny = 1', 'x = ' + ' ' * 7 + '  ' + ' ' * 5 + '\ny = 1'),
    ("python", 'doc = """one\ntwo"""\nz', 'doc = ' + ' ' * 6 + '\n' + ' ' * 6 + '\nz'),
    ("go", 'x := foo("datetime") // WARRANTY', 'x := foo(' + ' ' * 10 + ') ' + ' ' * 11),
    ("java", "a /* b\nc */ d", "a " + " " * 4 + "\n" + " " * 4 + " d"),
    ("rust", "fn f<'a>(x: &'a str) -> char { 'c' }", "fn f<'a>(x: &'a str) -> char {     }"),
    ("csharp", 'var p = @"C:\\dir\\"; q', "var p = " + " " * 10 + "; q"),
    ("typescript", "const s = `a\n${b}`; t", "const s = " + " " * 2 + "\n" + " " * 5 + "; t"),
])
def test_code_of_blanks_comments_and_strings(language: str, text: str, code: str) -> None:
    assert lexical.code_of(text, 0, language) == code


def test_what_a_text_ends_inside_of() -> None:
    assert lexical.open_at_end('def f():\n    """Return the', "python").closer == '"""'
    assert lexical.open_at_end("/**\n * Returns", "java").closer == " */"
    assert lexical.open_at_end("x = 1  # note", "python").kind == "line"
    assert lexical.open_at_end('s = "ab\\"', "python").closer == '"'
    assert lexical.open_at_end('s = "ab"', "python") is None
    assert lexical.open_at_end("/* done */ x", "c") is None
    assert lexical.opener("x\n/**\n * foo", "java") == "/*"
    assert lexical.opener("x  // note", "java") == ""
    assert lexical.open_at_end("anything /*", None) is None


def test_open_brackets_ignore_those_in_strings_and_closers_of_older_lines() -> None:
    code = lexical.code_of('f(a, "(", [b', 0, "python")
    assert lexical.open_brackets(code) == "(["
    assert lexical.closers("([") == "])"
    assert lexical.open_brackets(") + g(x)") == ""


def test_words_of_a_comment_are_not_names_the_project_should_know() -> None:
    ranker = Ranker("go", "package a\n\nfunc f() {\n\tx := 1\n\t/", None, Known())
    assert ranker.unseen("/ WITHOUT WARRANTIES OR CONDITIONS", True) == 0
    assert ranker.unseen(" y := frobnicate(x)", True) == 2  # y, frobnicate: never seen


def test_a_line_inside_a_doc_comment_is_prose_no_parse_judges() -> None:
    prompt = "class A {\n    /**\n     * Returns the pa"
    ranker = Ranker("java", prompt, None, Known())
    assert ranker.parse_errors("th to:") == ranker.parse_errors("th.") == 0
    assert ranker.unseen("th to {@code other}", True) == 0


def test_opening_a_comment_or_a_block_is_no_parse_error() -> None:
    ranker = Ranker("java", "class A {\n    int x;\n    /", None, None)
    assert ranker.parse_errors("**") == ranker.parse_errors("/ note")
    method = Ranker("typescript", "class A {\n  private _removeParen", None, None)
    assert method.parse_errors("t(parent: Subscription) {") \
        <= method.parse_errors("t(this);")


def test_prose_candidates_are_ranked_by_the_model_alone() -> None:
    ranker = Ranker("java", "/*\n * Please contact Oracle, 500 O", None, Known("Oracle"))
    found = ranker.rank([Scored("", -7.0, 1, True, ""),
                         Scored("racle Parkway, Redwood Shores, CA 94065 USA", -1.9, 12, True,
                                "")], wanted=1)
    assert found[0].text.startswith("racle Parkway")


def test_only_comments_and_strings_that_span_lines_hold_a_window_open() -> None:
    assert lexical.open_block('x = 1\ny = """doc', "python") is not None
    assert lexical.open_block("a /* note", "go") is not None
    assert lexical.open_block("const s = `a\nb", "typescript") is not None
    assert lexical.open_block('x = "unfinished', "python") is None  # the line ends it
    assert lexical.open_block("x = 1  # note", "python") is None


def test_a_python_string_alone_after_a_bodys_first_statement_is_stray() -> None:
    after_docstring = Ranker("python", 'def f(n):\n    """Return n."""\n    ', None, None)
    assert after_docstring.stray_string('"""') == 1
    assert after_docstring.stray_string('"""Return n."""') == 1
    assert after_docstring.stray_string("return n") == 0
    assert after_docstring.stray_string('print("done")') == 0
    # a docstring opens a body; inside one, its lines are prose
    assert Ranker("python", "def f(n):\n    ", None, None).stray_string('"""Doc."""') == 0
    assert Ranker("python", 'def f(n):\n    """Doc\n    ', None, None).stray_string(
        "more") == 0
    ranked = after_docstring.rank([Scored('"""', -1.0, 2, True, ""),
                                   Scored("return n", -4.0, 3, True, "")], wanted=1)
    assert ranked[0].text == "return n"


def test_a_bare_python_name_nothing_defines_is_unknown_however_known() -> None:
    everything = Known("template", "fsencode", "_os", "cum_weights", "numbers")
    ranker = Ranker("python", "def mean(numbers):\n    total = ", None, everything)
    assert ranker.unseen("sum(numbers)", True) == 0  # a builtin and a parameter
    assert ranker.unseen("cum_weights[-1]", True) == 1.0  # a NameError here
    assert ranker.unseen("numbers.fsencode()", True) == pytest.approx(0.2)  # an attribute
    body = Ranker("python", "def f(items):\n    ", None, everything)
    assert body.unseen("for item in items:", True) == 0  # bound by the line itself
    assert body.unseen("total, count = 0, 0", True) == 0
    assert body.unseen("print(key=len)", True) == 0  # a keyword argument
    starred = Ranker("python", "from os import *\n\ndef f():\n    ", None, everything)
    assert starred.unseen("fsencode(x)", True) == pytest.approx(1.2)  # x: never seen


def test_a_name_the_cursor_is_inside_of_is_judged_whole() -> None:
    ranker = Ranker("python", "class A:\n    def f(self):\n        self._completed = 0\n"
                    "        self._co", None, Known())
    assert ranker.unseen("mpleted += 1", True) == 0
    assert ranker.unseen("nn_lost += 1", True) == 1.0


def test_an_attribute_a_python_line_assigns_binds_no_bare_name() -> None:
    ranker = Ranker("python", "class Bar:\n    def __init__(self):\n        ", None,
                    Known("rargs", "width"))
    # ``rargs`` read is a NameError (the member it sets is known elsewhere: 0.2)
    assert ranker.unseen("self.rargs = rargs", True) == pytest.approx(1.2)
    assert ranker.unseen("self.width: int = width", True) == pytest.approx(1.2)
    assert ranker.unseen("width = 0", True) == 0


def test_an_own_member_the_file_never_mentions_counts_as_unknown() -> None:
    prompt = ("class Stack:\n    def __init__(self):\n        self.items = []\n\n"
              "    def pop(self):\n        ")
    ranker = Ranker("python", prompt, None, Known("part_count", "items", "append"))
    assert ranker.unseen("return self.items.pop()", True) == 0
    assert ranker.unseen("if self.part_count() == 0:", True) == 1.0  # another class's
    assert ranker.unseen("self.items.part_count()", True) == pytest.approx(0.2)  # not own
    # assigned: a new member (known elsewhere, so out of scope only)
    assert ranker.unseen("self.part_count = 0", True) == pytest.approx(0.2)
    typescript = Ranker("typescript", "class A {\n  run() {\n    const t = this, b = true;\n    ",
                        None, Known("closed"))
    assert typescript.unseen("this.closed = true;", True) == pytest.approx(0.2)
    assert typescript.unseen("if (this.closed) {", True) == 1.0
    # far above the cursor is still the file
    far = Ranker("python", "class A:\n    size = 0\n" + "\n" * 8000 + "    def f(self):\n        ",
                 None, Known("size"))
    assert far.unseen("return self.size", True) == 0


@pytest.mark.parametrize(("language", "prompt", "text", "suffix", "left_open"), [
    ("python", 'fill = "#', "", None, 1),          # the cursor's string never closed
    ("python", 'fill = "#', '",', None, 0),
    ("python", "x = ", "'abc", None, 1),
    ("python", 'fill = "#', "", '",\n', 0),        # the suffix closes it
    ("python", 'doc = """one', "two", None, 0),    # a docstring may span lines
    ("java", 'String s = "a', "b;", None, 1),
    ("go", 's := "a', 'b"', None, 0),
    ("rust", 'let s = "a', "b", None, 0),          # Rust strings may span lines
    ("python", 'x = "a', "b \\", None, 0),          # continued on the next line
])
def test_a_line_never_leaves_a_short_string_open(language: str, prompt: str, text: str,
                                                 suffix: str | None, left_open: int) -> None:
    assert Ranker(language, prompt, suffix, None).open_string(text, True) == left_open


def test_a_line_cut_short_by_the_budget_is_not_judged_open() -> None:
    assert Ranker("python", 'x = "a', None, None).open_string("bc", False) == 0
