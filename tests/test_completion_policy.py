"""The generation policy over a real hypercube: token healing at every cut of real lines,
line and block scopes, fill-in-the-middle that joins its suffix, honest usage."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest

from app.code.languages import language_spec
from app.engine import Engine, SamplingParams, load_engine, policy
from app.engine.ends import SuffixTerminator
from app.engine.healing import heal
from app.engine.language import resolve_language
from app.engine.ranking import Ranker, Scored, _from_code_line, closed_lines
from app.engine.scope import (
    BlockEnd,
    body_indent,
    closer_indent,
    first_body_indent,
    indent_unit,
    join_line,
    opens_body,
    python_indent_limit,
    resolve_scope,
    statement_head,
    statement_line,
    suffix_first_line,
    suffix_takeover,
)
from app.engine.search import (
    Found,
    SearchPlan,
    _Beam,
    _extend,
    _whole_lines,
    search,
    sessions_needed,
)
from app.engine.types import GenerationRequest
from app.errors import InvalidRequest
from app.model import Session
from tests.conftest import copy_of_app, ingested, make_root

PYTHON = '''class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()
'''
JAVASCRIPT = '''function total(values) {
  let sum = 0;
  for (const value of values) {
    sum += value;
  }
  return sum;
}
'''


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The repository's own `app/` package ingested (model and code index)."""
    root = tmp_path_factory.mktemp("policy")
    with ingested(root, copy_of_app(root)) as store:
        yield load_engine(store, make_root().kernels)


def request(engine: Engine, prompt: str, **fields: object) -> GenerationRequest:
    params = SamplingParams(max_tokens=int(fields.pop("max_tokens", 12)),  # type: ignore[call-overload]
                            temperature=float(fields.pop("temperature", 0.0)))  # type: ignore[arg-type]
    return GenerationRequest(engine.tokenizer.encode(prompt), params, prompt_text=prompt,
                             **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("source", [PYTHON, JAVASCRIPT], ids=["python", "javascript"])
def test_healed_completions_at_every_cut_continue_exactly_after_the_prompt(
        engine: Engine, source: str) -> None:
    for cut in range(1, len(source)):
        prompt = source[:cut]
        result = engine.generate(request(engine, prompt, scope="line", max_tokens=6))
        (choice,) = result.choices
        written = "".join(t.text for t in choice.tokens)
        kept = prompt[:len(prompt) - choice.healed]
        # The tokens re-write the taken-back end of the prompt, then the completion: the
        # text returned is exactly what follows the prompt, never the healed part again.
        assert (kept + written).startswith(prompt + choice.text), (cut, choice)
        assert "\n" not in choice.text
        assert choice.healed == len(prompt) - len(kept) <= len(prompt)


def test_a_cursor_at_a_line_start_or_after_an_indent_continues_the_indented_body(
        engine: Engine) -> None:
    # After a lone "\n" the corpus never has indentation (the tokenizer keeps "\n   " as one
    # token): unhealed, a completion there cannot start indented; healed, it does.
    for prompt in ("def parse(self, text):\n", "class Reader:\n    def read(self):\n"):
        raw = engine.complete(engine.tokenizer.encode(prompt),
                              SamplingParams(max_tokens=4, temperature=0))
        healed = engine.generate(request(engine, prompt, scope="line")).choices[0]
        assert not raw.text.startswith(" ")
        assert healed.text.startswith("    ") and healed.text.strip(), healed
    after_indent = engine.generate(request(engine, "def parse(self, text):\n    ",
                                           scope="line")).choices[0]
    assert after_indent.text.strip() and not after_indent.text[:1].isspace()


def test_after_a_typed_indent_no_token_indents_the_line_further() -> None:
    plan = SearchPlan(scope="line", required=b"", block=None, suffix_line=None, stops=[],
                      width=3, budget=4, at_line_start=True, indented=True)
    start = _Beam(None, [], [], 0.0, b"")  # type: ignore[arg-type]  # (no session read)
    pieces = [b" #", b"  ", b"# note"]
    assert _extend(start, 0, -1.0, pieces, plan) is None  # the indent typed is the line's
    assert _extend(start, 1, -1.0, pieces, plan) is None
    assert _extend(start, 2, -1.0, pieces, plan) is not None


def test_block_scope_ends_at_the_dedent(engine: Engine) -> None:
    prompt = "def load(self, path):"
    result = engine.generate(request(engine, prompt, scope="auto", max_tokens=80))
    assert result.scope == "block"
    (choice,) = result.choices
    lines = choice.text.split("\n")
    assert lines[0] == "" and len(lines) >= 2
    assert all(line.startswith((" ", "\t")) for line in lines[1:] if line.strip())
    assert choice.text == choice.text.rstrip()


@pytest.mark.parametrize("prompt", ["def read(self):", "        if not line:",
                                    "    defaults = {"])
def test_a_new_block_is_a_body_on_the_next_lines(engine: Engine, prompt: str) -> None:
    # Healing takes the opener back; without the rule the search took it on as
    # `line: int) -> None:` or `{}` and returned " int) -> None:" or "}".
    result = engine.generate(request(engine, prompt, scope="block", max_tokens=40,
                                     n=4, best_of=4))
    assert result.scope == "block"
    for choice in result.choices:
        assert choice.text.startswith("\n"), choice.text
        assert choice.text.strip(" \t\n)]};,"), choice.text


def test_a_block_cut_by_the_budget_ends_with_its_last_whole_line() -> None:
    assert _whole_lines("\n    a = 1\n    if a:\n        b = f(") == "\n    a = 1\n    if a:"
    assert _whole_lines("\n    b = f(") == "\n    b = f("  # no whole line: what there is
    assert _whole_lines("\n    a = 1\n") == "\n    a = 1"


def test_a_new_blocks_body_is_one_indentation_step_deeper(engine: Engine) -> None:
    assert body_indent("def fibonacci(n):", "python") == 4  # PEP 8's step when none shows
    two = "function f() {\n  if (a) {\n    b();\n  }\n}\n\nfunction g() {"
    assert indent_unit(two.split("\n"), "javascript") == 2
    assert body_indent(two, "javascript") == 2
    assert body_indent("    def f(self):", "python") == 8
    # Only where a body starts: not in the middle of one, not after `(`, not without a step.
    assert body_indent("    x = 1\n    ", "python") is None
    assert body_indent("run(", "python") is None
    assert body_indent("func f() {", "go") is None
    assert first_body_indent("def f():", "\n        x", opener_here=True) == 8
    assert first_body_indent("    ", "x = 1", opener_here=False) == 4
    assert first_body_indent("def f():", "\n   ", opener_here=True) is None
    # The model offers 8 spaces under a top-level def first (a method's body is commoner in
    # its corpus): the search writes the body one step in.
    for prompt in ("def fibonacci(n):", "def parse_line(text):\n"):
        (choice,) = engine.generate(request(engine, prompt, scope="block",
                                            max_tokens=24)).choices
        assert first_body_indent(prompt.rsplit("\n", 1)[-1], choice.text,
                                 opener_here=not prompt.endswith("\n")) == 4, choice.text


def _repeated_corpus(corpus: Path, name: str, pieces: int,
                     piece: Callable[[int, int], str]) -> Path:
    """60 files named ``name.format(n=n)``, each the ``pieces`` texts ``piece(n, k)``: a
    corpus that has only ever seen one shape of code."""
    corpus.mkdir()
    for n in range(60):
        (corpus / name.format(n=n)).write_text(
            "".join(piece(n, k) for k in range(pieces)), encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def methods_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A corpus of methods only: after a docstring, its model has only seen 8 spaces."""
    root = tmp_path_factory.mktemp("methods")
    corpus = _repeated_corpus(root / "corpus", "shape_{n}.py", 8, lambda n, k: (
        f'class Shape{n}_{k}:\n    def area_{k}(self, side):\n'
        f'        """Area of side {k}."""\n        return side * {k}\n\n'))
    with ingested(root, corpus) as store:
        yield load_engine(store, make_root().kernels)


def test_a_python_line_is_never_started_deeper_than_the_line_above_it(
        methods_engine: Engine) -> None:
    assert python_indent_limit('def f(n):\n    """Doc."""\n') == 4
    assert python_indent_limit("if a:\n    b\n    ") == 4
    assert python_indent_limit("    y = [\n        1, 2,\n        3]\n") == 8
    for open_ in ("x = foo(a,\n", "def f():\n", '"""An open string\n', "x = 1 +\n", "x = 1"):
        assert python_indent_limit(open_) is None, open_
    # Deeper would be an IndentationError; a model that has seen only methods offers it.
    prompt = 'def area(side):\n    """Area of side 3."""\n'
    for scope in ("line", "block"):
        (choice,) = methods_engine.generate(request(methods_engine, prompt, scope=scope,
                                                    max_tokens=16)).choices
        assert choice.text.strip(), scope
        assert first_body_indent("", choice.text, opener_here=False) == 4, (scope, choice.text)


def test_line_scope_n_best_differ_and_rank_by_the_model(engine: Engine) -> None:
    result = engine.generate(request(engine, "import os\n\npath = os.path.", scope="line",
                                     n=3, best_of=3))
    texts = [c.text for c in result.choices]
    # n choices, the distinct ones first (whether the search finds 2 or 3 distinct lines
    # here depends on the corpus, which is this repository's own code).
    assert len(texts) == 3 and len(set(texts)) >= 2
    assert len(set(texts[:len(set(texts))])) == len(set(texts))
    assert all("\n" not in t for t in texts)
    assert result.completion_tokens == sum(len(c.tokens) for c in result.choices)


def test_fill_in_the_middle_joins_the_suffix_and_reports_honest_usage(engine: Engine) -> None:
    prefix = "def average(values):\n    total = "
    suffix = "\n    return total / len(values)\n"
    result = engine.generate(request(engine, prefix, suffix=suffix, max_tokens=16))
    assert result.scope == "line"
    (choice,) = result.choices
    assert "return total" not in choice.text and "\n" not in choice.text
    assert result.completion_tokens == len(choice.tokens) <= 16
    assert result.prompt_tokens == (len(engine.tokenizer.encode(prefix))
                                    + len(engine.tokenizer.encode(suffix)))
    sampled = engine.generate(request(engine, prefix, suffix=suffix, max_tokens=16,
                                      temperature=0.8, scope="free"))
    assert sampled.completion_tokens == len(sampled.choices[0].tokens) <= 16
    assert "return total / len(values)" not in sampled.choices[0].text


def test_a_fill_in_the_middle_model_has_read_the_suffix(engine: Engine) -> None:
    """A name only the suffix uses is likelier at the cursor with the suffix than without:
    the session read it before the prompt, as text of the same document."""
    from app.engine.policy import prepare

    prefix = "def report(rows):\n    widths = measure_"
    suffix = "\n    return measure_quokka_span(rows, widths)\n"
    plain = prepare(engine, request(engine, prefix))
    fim = prepare(engine, request(engine, prefix, suffix=suffix))
    assert len(fim.history) == len(plain.history) + len(engine.tokenizer.encode(suffix))
    assert plain.healed.removed == fim.healed.removed == b"_"  # healed: `_quokka` is
    name = engine.tokenizer.encode(" measure_quokka_span")[2:]  # written on from `measure`
    assert "".join(engine.token_text(t) for t in name).startswith("_quokka")
    logprobs = []
    for plan in (plain, fim):
        with engine.sessions(plan.model) as session:
            session.reset(plan.history)
            total = 0.0
            for token in name.tolist():
                total += math.log(float(session.distribution()[token]))
                session.push(token)
            logprobs.append(total)
    assert logprobs[1] > logprobs[0] + math.log(100)


def test_a_middle_on_the_suffix_line_stops_where_the_suffix_begins(engine: Engine) -> None:
    result = engine.generate(request(engine, "values = sorted(", suffix=")\n", max_tokens=10))
    (choice,) = result.choices
    assert not choice.text.endswith(")")


def test_streamed_choice_equals_the_generated_one(engine: Engine) -> None:
    ask = request(engine, "class Reader:\n    def read(self):\n", scope="block", max_tokens=40)
    whole = engine.generate(ask).choices[0]
    deltas = list(engine.stream_choice(ask, 0))
    assert "".join(d.text for d in deltas) == whole.text
    assert deltas[-1].finish_reason == whole.finish_reason
    sampled = request(engine, "def read(self):\n", scope="line", temperature=0.9)
    again = ["".join(d.text for d in engine.stream_choice(sampled, 7)) for _ in range(2)]
    assert again[0] == again[1] and "\n" not in again[0]


def test_copied_sessions_predict_as_if_they_had_read_the_text(engine: Engine) -> None:
    ids = engine.tokenizer.encode(PYTHON)
    source, copy, fresh = (engine.model.session(64) for _ in range(3))
    source.reset(ids[:-5])
    copy.reset(ids[:3])  # a different, shorter history to be overwritten
    copy.copy_from(source)
    for token in ids[-5:].tolist():
        copy.push(token)
    fresh.reset(ids)
    assert np.array_equal(copy.history, fresh.history)
    assert np.allclose(copy.distribution(), fresh.distribution(), rtol=0, atol=0)


def test_healing_takes_back_the_last_word_only() -> None:
    class Bytes:
        def token_bytes(self, token: int) -> bytes:
            return [b"x", b" =", b" fo", b"o", b"\n"][token]

        def decode_bytes(self, ids: np.ndarray) -> bytes:
            return b"".join(self.token_bytes(int(i)) for i in ids)

    healed = heal(Bytes(), np.array([0, 1, 2, 3]), "x = foo")  # type: ignore[arg-type]
    assert healed.removed == b" foo" and healed.ids.tolist() == [0, 1]
    assert heal(Bytes(), np.array([0, 4]), "x\n").removed == b"\n"  # type: ignore[arg-type]


def test_scope_and_language_resolution() -> None:
    assert resolve_scope(None, "x = 1", None) == "free"
    assert resolve_scope(None, "x = f(", ")") == "block"
    assert resolve_scope(None, "x = 1 + ", "") == "line"
    assert resolve_scope("auto", "if ready:\n    ", None) == "block"
    assert resolve_scope("auto", "items.map(x =>", None) == "block"
    assert opens_body("    elif ready:  # now") and opens_body("void f() {")
    assert not opens_body("items.map(x =>") and not opens_body("key=lambda x:")
    assert resolve_language(None, "src/main.go", "x") == "go"
    assert resolve_language("rust", "a.py", "x") == "rust"
    assert resolve_language(None, None, "import os\ndef f():\n") == "python"
    with pytest.raises(InvalidRequest) as info:
        resolve_language("cobol", None, "")
    assert info.value.param == "language"


def test_block_end_tracks_indentation_and_brackets() -> None:
    python = BlockEnd.for_prompt("def f(x):")
    assert python.feed("\n    y = x\n\n    return y\n") is None
    assert python.feed("def g") == len("\n    y = x\n\n    return y")
    braces = BlockEnd.for_prompt("function f() {")
    text = "\n  if (a) { b(); }\n  return 1;\n}\nconst"
    cut = braces.feed(text)
    assert cut is not None and text[:cut] == "\n  if (a) { b(); }\n  return 1;\n}"
    # A block ends with its own closing bracket: `{` ends at `}` even where the code it was
    # learnt from went on with `);`, and so does a callback's (the `);` is the call's).
    method = BlockEnd.for_prompt("class A {\n  next(value: T): void {")
    text = "\n    this.push(value);\n  });\n"
    cut = method.feed(text)
    assert cut is not None and text[:cut] == "\n    this.push(value);\n  }"
    callback = BlockEnd.for_prompt("promise.then((value) => {")
    text = "\n  use(value);\n});\nnext();"
    cut = callback.feed(text)
    assert cut is not None and text[:cut] == "\n  use(value);\n}"
    # ... of the same kind (a `)` does not close a `{`), at the opener's indentation (one
    # further left closes the code around it); brackets in strings and comments are text.
    for wrong in ("\n    b();\n  );\n", "\n    b();\n}\n"):
        block = BlockEnd.for_prompt("  if (a) {")
        cut = block.feed(wrong)
        assert cut is not None and wrong[:cut].rstrip() == "\n    b();", wrong
    commented = "\n    // 1) see \"(x\"\n    /* ( */ b(')');\n  }\nz"
    cut = BlockEnd.for_prompt("  if (a) {").feed(commented)
    assert cut is not None and commented[:cut] == commented[:-2]
    # A closing line goes on as code does (`} else {`, `});`), not with another file's words.
    for text, plausible in (("\n    b();\n  } else {", True), ("\n    b();\n  } from 'x';", False),
                            ("\n  } else {", False), ("\n    b();\n  } el", True)):
        block = BlockEnd.for_prompt("  if (a) {")
        block.feed(text)
        assert block.plausible_close(block.text) is plausible, text
    # A block the model left open is closed, braces it opened first; the suffix's own
    # closer (at the opener's indentation, or on the cursor's line) is left to the suffix.
    opened = BlockEnd.for_prompt("    if (a) {")
    assert opened.closing("\n      x();", None) == "\n      x();\n    }"
    assert opened.closing("\n      x();", "\n    }\n}") == "\n      x();"
    assert opened.closing("\n      x();", "\n  }\n}") == "\n      x();\n    }"
    assert (opened.closing("\n      if (b) {\n        y();", "\n    }")
            == "\n      if (b) {\n        y();\n      }")
    assert opened.closing("\n      f(", None) == "\n      f("  # inside an expression
    call = BlockEnd.for_prompt("    next({")
    assert call.closing("\n      a: 1,", ");") == "\n      a: 1,\n    }"
    # Rust's lifetimes are no character literals: their quote opens no string.
    rust = BlockEnd.for_prompt("impl<'a> Replacer for &'a str {", "rust")
    text = "\n    fn get(&self) -> &'a str {\n        let c = '{';\n        self.0\n    }\n}\nnext"
    cut = rust.feed(text)
    assert cut is not None and text[:cut] == text[:-len("\nnext")]
    returns = suffix_first_line("\n\n    return a\n")
    assert suffix_takeover("a = 1\n    return a\n", returns, complete=False) == 5
    # The suffix's `}` closes the code around the block: the block's own `    }` is not it.
    closes = suffix_first_line("\n}\n")
    body = "\n    if (a) {\n        b();\n    }\n    c();\n}\n"
    assert suffix_takeover(body, closes, complete=False) == body.index("\n}")
    assert suffix_takeover("x)\n", suffix_first_line("x)\n"), complete=False) == 0
    streamed = SuffixTerminator(closes, suffix_starts_line=True)
    assert streamed.push(body) + streamed.flush() == body[:body.index("\n}")]
    assert streamed.stopped
    assert join_line("total = sum(x)", ")\n") == "total = sum(x"
    assert join_line("x + 1", "\nnext") == "x + 1"
    # A block closing on the suffix's line: `})` before the suffix `);` keeps `}`.
    assert join_line("\n  run();\n})", ");\n") == "\n  run();\n}"


def test_a_block_that_goes_on_past_its_close_or_breaks_a_line_is_found_out() -> None:
    # `} else {` opens a block the completion would leave open: it ends at its `}`.
    chained = BlockEnd.for_prompt("function f() {\n  if (x) {", "typescript")
    text = "\n    a();\n  } else if (y) {\n    b();"
    cut = chained.feed(text)
    assert cut is not None and text[:cut] == "\n    a();\n  }"
    # ... and so does one that closes on its line: the `else` is code after the block.
    closed = BlockEnd.for_prompt("function f() {\n  if (x) {", "typescript")
    text = "\n    a();\n  } else { b(); }\nz"
    cut = closed.feed(text)
    assert cut is not None and text[:cut] == "\n    a();\n  }"
    # A line that ends inside a string is counted (Rust's strings and docstrings may span
    # lines); a `//` comment ends with its line, so a body ending in one still gets closed.
    for language, text, broken in (("typescript", "\n  throw new Error('no;\n  x();", 1),
                                   ("rust", '\n    let s = "a\n    b";', 0),
                                   ("python", '\n    """Doc\n    more."""\n', 0)):
        block = BlockEnd.for_prompt("def f():" if language == "python" else "fn f() {",
                                    language)
        block.feed(text)
        assert block.unterminated == broken, (language, text)
    assert BlockEnd.for_prompt("  if (a) {").closing("\n    b(); // note", None) == \
        "\n    b(); // note\n  }"


def test_a_closer_at_a_line_start_goes_where_its_opener_line_is() -> None:
    assert closer_indent("func f() {\n    if x {\n        y()\n", "go") == 4
    assert closer_indent("class A {\n    void f() {\n        g(\"}\"); // }\n", "java") == 4
    assert closer_indent("class A {\n    void f() {\n        g(1);\n    }\n", "java") == 0
    assert closer_indent("fn f<'a>(x: &'a str) {\n    let c = '{';\n", "rust") == 0
    assert closer_indent("const a = {\n  b: '}',\n  /* { */\n", "typescript") == 0
    assert closer_indent("x = {\n", "python") is None  # Python: not judged
    assert closer_indent("class A {\n    int x", "java") is None  # mid-line


def test_a_block_opened_on_a_continuation_line_is_indented_from_its_statement() -> None:
    # the opener's line closes the `(` of the line the declaration starts on
    java = ("interface P {\n    /**\n     * Registers.\n     */\n"
            "    default WatchKey register(WatchService watcher,\n"
            "                      Kind<?>... events) throws IOException {")
    assert statement_head(java, "java") == "    "
    assert body_indent(java, "java") == 8
    end = BlockEnd.for_prompt(java, "java")
    body = "\n        return register(watcher, events);\n    }"
    assert end.copy().feed(body + "\n\n    void g();") == len(body)
    # left open by the budget: its closing line goes under the declaration
    assert end.closing("\n        return register(watcher, events);", None).endswith("\n    }")
    python = "class A:\n    def f(self,\n            a: int) -> None:"
    assert statement_head(python, "python") == "    "
    assert BlockEnd.for_prompt(python, "python").copy().feed(
        "\n        return a\n\n    def g") == len("\n        return a\n")
    # brackets in strings and comments close nothing; a line that closes none is its own
    assert statement_head("  foo(a, ')', // )\n        b, function() {", "typescript") \
        == "        "
    assert statement_head('x = f(\n    """)""",\n    y)\n', "python") == ""
    assert statement_head("fn f() {\n    if x {\n        a();\n    } else {", "rust") == "    "
    # a Python signature over lines opens a body like a one-line one
    signature = "def f(\n    a: int,\n) -> None:"
    assert statement_line(signature, "python") == "def f("
    assert opens_body(signature) and body_indent(signature, "python") == 4


def test_the_parse_window_never_ends_inside_a_comment_or_docstring() -> None:
    java = ["", "    /**", "     * Returns", "     */", "    x();", "    /**", "     * a"]
    assert closed_lines(java, "java") == java[:5]
    python = ["x = 1", '    """Doc', 'more""" + y', "z", '"""']
    assert closed_lines(python, "python") == python[:4]
    assert closed_lines(["a // /* not one", "b"], "go") == ["a // /* not one", "b"]


def test_a_middle_that_writes_the_suffixs_next_line_repeats_it() -> None:
    ranker = Ranker("python", "def f(values):\n    ", "\n    return total / len(values)\n",
                    None)
    assert ranker.repeats("return total / len(values)") == 1
    assert ranker.repeats("total = sum(values)") == 0


def test_a_candidate_that_breaks_the_parse_loses_to_one_that_does_not() -> None:
    ranker = Ranker("python", "def f(values):\n    total = sum(", None, None)

    def candidates(*texts: str) -> list[Scored[str]]:
        return [Scored(t, -1.0 - i, 3, True, t) for i, t in enumerate(texts)]

    # the likeliest leaves a bracket open: the one that closes it wins, for one or many
    assert ranker.rank(candidates("values", "values)"), wanted=1)[0].text == "values)"
    assert [c.text for c in ranker.rank(candidates("values", "values)"), wanted=3)] == [
        "values)", "values"]
    # the likeliest parses: it stays first (the others need not be parsed for one)
    assert ranker.rank(candidates("values)", "values"), wanted=1)[0].text == "values)"


def test_a_block_that_breaks_the_files_parse_loses_whatever_its_score() -> None:
    # An Allman-style property. The line window starts at the header above a brace on a
    # line of its own and stops where the suffix closes its block (from the bare `{` on,
    # with the class's next members, it parsed the body as a statement block and counted
    # the wrong candidate's errors); the whole file judges the same.
    prompt = "class A\n{\n    int info;\n\n    public int Value\n    {"
    suffix = "\n\n    public string Name { get; }\n}\n"
    broken = "\n        get\n    }"
    accessor = "\n        get\n        {\n            return info;\n        }\n    }"
    window = Ranker("csharp", prompt, suffix, None)
    assert window.parse_errors(broken) > window.parse_errors(accessor) == 0
    ranker = Ranker("csharp", prompt, suffix, None, whole=True)
    assert ranker.parse_errors(broken) > ranker.parse_errors(accessor) == 0
    # 40 nats likelier, and still broken code: it goes below the one that parses
    texts = [Scored(broken, -1.0, 5, True, broken), Scored(accessor, -41.0, 12, True, accessor)]
    assert [c.text for c in ranker.rank(texts, wanted=1)] == [accessor, broken]
    # each candidate is an edit of one tree of prompt + suffix: the same counts as a parse
    # of the joined text, in any order
    again = Ranker("csharp", prompt, suffix, None, whole=True)
    assert [again.parse_errors(t) for t in (accessor, broken, accessor)] == [0, 1, 0]


def test_a_blocks_parse_starts_at_a_line_of_code_and_stops_before_an_open_comment() -> None:
    # the client's window cut the suffix inside a doc comment: a candidate that opens one
    # still counts its errors
    prompt = "class A {\n    void f() {"
    suffix = ("\n\n    /**\n     * Returns the name.\n     */\n    String name() {\n"
              "        return n;\n    }\n\n    /**\n     * Sets")
    ranker = Ranker("java", prompt, suffix, None, whole=True)
    assert ranker.parse_errors("\n        g();\n    }") < ranker.parse_errors("/**")
    # ... and its prompt inside a declaration: the parse starts at the first unindented
    # line of code
    cut = "        y\n    }\n}\n\n// g\nfn g() {\n    while a\n        && b\n    {"
    assert _from_code_line(cut) == cut[cut.index("fn g"):]
    assert _from_code_line("fn f() {\n    x\n") == "fn f() {\n    x\n"
    assert _from_code_line("    x\n    y") == "    x\n    y"  # none: all of it


def test_when_every_block_breaks_the_parse_a_wider_search_or_a_clean_start_wins(
        tmp_path: Path) -> None:
    # after a `{` the model has only ever seen match arms: its likeliest body for an `if`
    corpus = _repeated_corpus(tmp_path / "corpus", "pick_{n}.rs", 6, lambda n, k: (
        f"fn pick_{n}_{k}(x: Option<u32>) -> u32 {{\n    match x {{\n"
        f"        None => {k},\n        Some(v) => v + {n},\n    }}\n}}\n\n"))
    prompt, suffix = "fn check(x: bool, v: u32) -> u32 {\n    if x {", "\n    v\n}\n"
    parser = language_spec("rust").parser()
    with ingested(tmp_path, corpus) as store:
        engine = load_engine(store, make_root().kernels)
        line = engine.generate(request(engine, prompt + "\n        ", suffix=suffix,
                                       scope="line", language="rust", max_tokens=64))
        assert "=>" in line.choices[0].text
        block = engine.generate(request(engine, prompt, suffix=suffix, scope="block",
                                        language="rust", max_tokens=64))
    text = block.choices[0].text
    assert not parser.parse((prompt + text + suffix).encode()).root_node.has_error, text
    assert text.endswith("\n    }")


def test_a_block_closed_empty_leaves_the_suffixs_closers_to_it() -> None:
    assert BlockEnd.for_prompt("    if x {", "rust").closed_empty(None) == "\n    }"
    assert BlockEnd.for_prompt("    if x {", "rust").closed_empty("}\n") == ""
    assert BlockEnd.for_prompt("foo(function() {", "typescript").closed_empty(");\n") == "\n}"
    assert BlockEnd.for_prompt("def f():", "python").closed_empty(None) == ""  # no bracket


class DigitsOnly:
    """A TokenConstraint: tokens made of digits, three of them, then done."""

    def __init__(self, engine: Engine) -> None:
        self.ids = np.array([i for i in range(engine.tokenizer.vocab_size)
                             if engine.token_bytes(i).isdigit()], dtype=np.int64)
        self.taken = 0

    def mask(self, allowed: np.ndarray) -> None:
        allowed[self.ids] = True

    def advance(self, token_id: int) -> None:
        self.taken += 1

    def done(self) -> bool:
        return self.taken >= 3


def test_a_token_constraint_restricts_every_choice_and_keeps_the_models_logprobs(
        engine: Engine) -> None:
    prompt = "def load(self, path):\n    return "
    for temperature in (0.0, 0.9):
        ask = request(engine, prompt, max_tokens=10, temperature=temperature, scope="line",
                      heal=False, constraint=lambda: DigitsOnly(engine))
        (choice,) = engine.generate(ask).choices
        assert choice.text.isdigit() and len(choice.tokens) == 3
        assert choice.finish_reason == "stop"
        # The model's own log-probabilities (of its view for the prompt's language).
        session = engine.model_for("python", None).session()
        session.reset(engine.tokenizer.encode(prompt))
        expected = []
        for token in choice.tokens:
            expected.append(math.log(session.distribution()[token.token_id]))
            session.push(token.token_id)
        assert [t.logprob for t in choice.tokens] == pytest.approx(expected, rel=1e-12)


def test_a_line_goes_on_the_way_the_lines_above_it_of_its_shape_do(engine: Engine) -> None:
    # Explicit re-exports: the model alone ends the line after the name (the name after
    # `as` is one it has never seen there); the lines above say it goes on.
    prompt = ("from app.engine.types import Choice as Choice\n"
              "from app.engine.types import Delta as Delta\n"
              "from app.engine.types import Generation as Generation\n"
              "from app.engine.types import SamplingParams")
    choice = engine.generate(request(engine, prompt, scope="line", max_tokens=12)).choices[0]
    assert choice.text == " as SamplingParams"


@contextmanager
def searched(engine: Engine, plan: policy._Plan,
             search_plan: SearchPlan) -> Iterator[tuple[Session, list[Found]]]:
    """The search's finished candidates after the prompt of ``plan``, and the session
    holding that prompt (valid inside the block)."""
    with ExitStack() as stack:
        base = stack.enter_context(engine.sessions(plan.model))
        base.reset(plan.history)
        spare = [stack.enter_context(engine.sessions(plan.model))
                 for _ in range(sessions_needed(search_plan))]
        yield base, search(spare, base, engine.prefix_index, engine.token_table,
                           plan.model.kernels, search_plan)


@pytest.mark.parametrize("prompt", [
    "def f(values):\n    if not values:\n        ret",
    "class Stack:\n    def pop(self):\n        return self.items.po",
])
def test_a_line_that_ends_scores_every_line_break_token_at_once(engine: Engine,
                                                                prompt: str) -> None:
    # Ending the line is one event: its probability is that of all the tokens that break
    # the line (with indentation or not), summed, not that of the likeliest one alone.
    plan = policy.prepare(engine, request(engine, prompt, scope="line"))
    line_ends = engine.prefix_index.compatible(b"\n")
    search_plan = SearchPlan(scope="line", required=plan.healed.removed, block=None,
                             suffix_line=None, stops=[], width=3, budget=12,
                             at_line_start=False)
    with searched(engine, plan, search_plan) as (base, found):
        ended = [item for item in found if item.finish == "stop"]
        assert ended
        best = max(ended, key=lambda item: item.logprob)
        with engine.sessions(plan.model) as session:
            session.copy_from(base)
            for token in best.tokens[:-1]:
                session.push(token)
            mass = float(session.distribution()[line_ends].sum())
    assert best.logprobs[-1] == pytest.approx(math.log(mass))
    assert mass > float(np.exp(best.logprobs[-1])) * 0.999


def test_a_line_after_a_docstring_is_code_not_the_docstrings_quotes_again(
        engine: Engine) -> None:
    prompt = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'
    (choice,) = engine.generate(request(engine, prompt, scope="line", max_tokens=24)).choices
    line = choice.text.strip()
    assert line and not line.startswith(('"', "'")), choice.text


def test_a_cursor_after_a_deep_indent_finds_the_line_a_wide_search_finds(
        engine: Engine) -> None:
    # The tokenizer writes a line break and its indentation as one token but the last
    # space with the next word, so the healed indentation is rewritten by a token covering
    # part of it; the likeliest such tokens cover the wrong part (`\n   ` of 12 spaces,
    # whose rest no token then writes plausibly). They get places of their own, so a
    # narrow search finds the line a wide one does.
    prompt = ("def f(values):\n    for value in values:\n        if value:\n"
              "            total = value\n            ")
    plan = policy.prepare(engine, request(engine, prompt, scope="line"))
    assert plan.healed.removed == b"\n            "
    best = []
    for width in (3, 12):
        search_plan = SearchPlan(scope="line", required=plan.healed.removed, block=None,
                                 suffix_line=None, stops=[], width=width, budget=16,
                                 at_line_start=True, indented=True)
        with searched(engine, plan, search_plan) as (_, found):
            best.append(max(item.logprob for item in found if item.finish == "stop"))
    narrow, wide = best
    assert narrow == pytest.approx(wide)


def test_asked_mid_line_a_line_that_could_end_still_gets_text(engine: Engine) -> None:
    # `from app.errors import InvalidRequest` may end where the cursor is, and that is the
    # model's favourite; a client asking there wants something to accept or ignore.
    prompt = "from app.errors import InvalidRequest"
    for suffix in (None, "\n"):
        result = engine.generate(request(engine, prompt, scope="line", suffix=suffix,
                                         language="python"))
        assert result.choices[0].text.startswith(", "), suffix
    # ... but not a line that breaks the code where ending it would not.
    broken = engine.generate(request(engine, "def f(message):\n    raise ValueError(message)",
                                     scope="line", language="python"))
    assert broken.choices[0].text == ""
    # ... nor between a prefix and a suffix that goes on on the cursor's line.
    joined = engine.generate(request(engine, "def mean(values):\n    return sum(values",
                                     scope="line", suffix=")\n", language="python"))
    assert ")" not in joined.choices[0].text
