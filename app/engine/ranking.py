"""Ranking finished candidates the way a developer would: a completion that breaks the
parse of prefix + completion + suffix loses, and one that uses names never seen (in the
prompt, the suffix or anywhere in the code index) ranks below one that uses known names.

A line's parse is of a window around the cursor (the code from the last line at the
window's least indentation, dedented, to a few lines into the suffix): whole files would cost
milliseconds per candidate, and errors elsewhere are the same for every candidate. Counts
are compared between candidates, so errors the window has anyway cancel out.

A block's parse is of the whole prompt + candidate + suffix: a window that starts inside a
declaration (at an Allman-style ``{`` on its own line, in a struct literal, a ``match``, a
class body) parses the block as some other construct, and counts the wrong candidates'
errors. The prompt and suffix are parsed once and each candidate is an edit of that tree
(tree-sitter reparses only around it: a fraction of a millisecond). A block that adds parse
errors ranks below every one that adds fewer, whatever their scores: it is broken code.

Only a candidate's code is judged: the words of its comments and strings are prose, and a
line the cursor writes inside a comment or a docstring is not parse-checked (the comment is
still open where the prompt ends); app/engine/lexical.py tells where the prose is.
"""

from __future__ import annotations

import builtins
import functools
import math
import re
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

import tree_sitter as ts

from app.code.languages import LanguageSpec, language_spec
from app.engine import lexical
from app.engine.consensus import consensus_order
from app.engine.names import IDENTIFIER, KnownNames
from app.errors import StoreError

WINDOW_LINES = 40
# Lines above the cursor that show what construct the window's lines belong in.
WRAPPER_LINES = 12
SUFFIX_LINES = 12
# Score, in nats, a candidate loses per parse error it adds and per never-seen name.
PARSE_PENALTY = 15.0
UNSEEN_PENALTY = 2.5
# Characters of prompt (before the cursor and at the file's start) and suffix whose names
# count as in scope.
SCOPE_NEAR_CHARS = 6000
SCOPE_HEAD_CHARS = 2000
# A name the code index knows but the prompt and suffix do not counts this much of one.
OUT_OF_SCOPE = 0.2
# ... but a member of the object itself (``self.x``, ``this.x``) that the file never
# mentions counts whole: a class's own members are written in its file, and the model's
# cache offers other classes' members (``self.rargs`` in a progress bar).
OWN_MEMBER = 1.0
# ... and for a line that copies one of the RECENT_LINES lines above the cursor.
REPEAT_PENALTY = 4.0
RECENT_LINES = 3
NEXT_LINES = 2
# GNMT-style length normalisation of a candidate's log-probability: lp = ((5 + n) / 6) ** α.
# Mild: a line's score already holds the probability that it ends where it does, and on
# held-out code (tests/bench/bench_decoding.py) larger α lost exact matches.
LENGTH_ALPHA = 0.2
# Candidates whose parse is checked (the best by the other measures).
PARSED = 3

_local = threading.local()


def length_penalty(tokens: int) -> float:
    return ((5.0 + tokens) / 6.0) ** LENGTH_ALPHA


@functools.cache
def keywords(language: str) -> frozenset[str]:
    """The grammar's keywords (its anonymous nodes spelled like identifiers)."""
    spec = _spec(language)
    if spec is None:
        return frozenset()
    grammar = spec.grammar
    found = set()
    for kind_id in range(grammar.node_kind_count):
        kind = grammar.node_kind_for_id(kind_id)
        if kind and not grammar.node_kind_is_named(kind_id) and kind.isidentifier():
            found.add(kind)
    return frozenset(found)


def _spec(language: str | None) -> LanguageSpec | None:
    if not language:
        return None
    try:
        return language_spec(language)
    except StoreError:
        return None


def _parser(language: str) -> ts.Parser | None:
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if language not in parsers:
        spec = _spec(language)
        parsers[language] = None if spec is None else spec.parser()
    return parsers[language]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass
class Ranker:
    """Scores the candidates of one request."""

    language: str | None
    prompt_text: str
    suffix: str | None
    known: KnownNames | None
    # Parse the whole prompt + candidate + suffix, and order by the errors first (blocks).
    whole: bool = False

    def __post_init__(self) -> None:
        self._base: tuple[bytes, bytes, ts.Tree] | None = None
        self._all_names: set[str] | None = None
        self._counted: dict[str, int] = {}
        self._wrapping: str | None = None
        lines = self.prompt_text.split("\n")[-WINDOW_LINES:]
        body = [line for line in lines[:-1] if line.strip()]
        depth = min((_indent(line) for line in body), default=0)
        start = next((i for i in range(len(lines) - 1, -1, -1)
                      if lines[i].strip() and _indent(lines[i]) <= depth), 0)
        if start > 0 and lines[start].lstrip().startswith("{") and lines[start - 1].strip():
            start -= 1  # a brace on a line of its own opens the header's block above it
        self._depth = depth
        window = lines[start:]
        self._head = "\n".join(_dedent(line, depth) for line in window[:-1])
        # What the window is read inside of is judged on the lines it holds, or when it
        # holds none, on its siblings above the cursor (lines at its depth or deeper).
        sample: list[str] = []
        for line in reversed(lines[:-1]):
            if (line.strip() and _indent(line) < depth) or len(sample) >= WRAPPER_LINES:
                break
            sample.append(_dedent(line, depth))
        self._sample = self._head if self._head.strip() else "\n".join(reversed(sample))
        self._cursor_line = window[-1] if window else ""
        self._tail = _within(closed_lines((self.suffix or "").split("\n")[:SUFFIX_LINES],
                                          self.language),
                             "\n".join(window), self.language)
        self._recent = {line.strip() for line in
                        [line for line in lines[:-1] if line.strip()][-RECENT_LINES:]}
        # ... and the suffix's next lines: a middle that writes them repeats the suffix.
        below = [line.strip() for line in (self.suffix or "").split("\n")[1:SUFFIX_LINES]
                 if line.strip()]
        self._recent.update(below[:NEXT_LINES])
        # The names near the cursor and the file's head (its imports) are in scope; reading
        # all of a long file would cost more than the search.
        text = self.prompt_text
        head = text[:min(SCOPE_HEAD_CHARS, max(0, len(text) - SCOPE_NEAR_CHARS))]
        self._local_names = set(IDENTIFIER.findall(head))
        self._local_names.update(IDENTIFIER.findall(text[-SCOPE_NEAR_CHARS:]))
        self._local_names.update(IDENTIFIER.findall((self.suffix or "")[:SCOPE_HEAD_CHARS]))
        self._keywords = keywords(self.language) if self.language else frozenset()
        self._parser = _parser(self.language) if self.language else None
        # What the cursor's line starts inside of (a block comment, a docstring): the
        # candidates' code is read from there on (app/engine/lexical.py).
        code = self._code = _from_code_line(text)
        line_start = code.rfind("\n") + 1
        self._line = code[line_start:]
        self._resume = lexical.opener(code[:line_start], self.language)
        # A cursor inside a comment or a string writes prose: no parse judges it. (The
        # line is read from what it starts inside of: the prompt is scanned once.)
        self._in_prose = lexical.open_at_end(self._resume + self._line,
                                             self.language) is not None
        previous = next((line for line in reversed(code[:line_start].split("\n"))
                         if line.strip()), "")
        self._star_import = self.language == "python" and _STAR_IMPORT.search(text) is not None
        self._after_header = not previous or lexical.code_of(
            previous, 0, self.language).rstrip().endswith(":")

    def unseen(self, text: str, complete: bool) -> float:
        """Names in ``text`` seen nowhere, plus OUT_OF_SCOPE for each one the code index
        knows but the prompt and suffix do not (a last name cut short by the budget is
        not judged). A name the cursor is in the middle of is judged whole
        (``self._co`` + ``mpleted``: ``_completed``). In Python, a bare name (not an
        attribute) that nothing in the file defines, imports or binds and that is no
        builtin counts as never seen however well the index knows it: it is a
        ``NameError`` (unless the file star-imports)."""
        if not self.known:
            return 0
        before = self._resume + self._line
        line_at = len(self._resume)
        code = lexical.code_of(before + text, line_at, self.language)
        head = len(self._line)
        found = [m for m in IDENTIFIER.finditer(code) if m.end() > head]
        if not complete and found and text.rstrip() == text and code.endswith(found[-1].group()):
            found = found[:-1]
        strict = self.language == "python" and not self._star_import
        # (names the candidate binds itself are new, not unknown: ``total = 0``)
        bound = _python_bound(code) if strict else set()
        count = 0.0
        for match in found:
            name = match.group()
            if name in self._local_names or name in self._keywords or name in bound \
                    or (self.language == "python" and name in _PYTHON_BUILTINS):
                continue
            if strict and not _is_attribute(code, match.start()):
                count += 1.0
                continue
            if self._own_member(code, match.start()) and name not in self._file_names() \
                    and not _ASSIGNED.match(code, match.end()):
                count += OWN_MEMBER
                continue
            count += OUT_OF_SCOPE if name in self.known else 1.0
        return count

    def _own_member(self, code: str, start: int) -> bool:
        """Whether the name at ``start`` is a member of the object itself (``self.name``)."""
        receivers = _RECEIVERS.get(self.language or "")
        if not receivers:
            return False
        found = _MEMBER_OF.search(code, max(0, start - 24), start)
        return found is not None and found.group(1) in receivers

    def _file_names(self) -> set[str]:
        """Every name of the prompt and the suffix (read once, when first asked: a member
        written far above the cursor is still the class's own)."""
        if self._all_names is None:
            self._all_names = set(IDENTIFIER.findall(self.prompt_text))
            self._all_names.update(IDENTIFIER.findall(self.suffix or ""))
        return self._all_names

    def stray_string(self, text: str) -> int:
        """1 if the Python line ``text`` completes is a string and nothing else, written in
        code after a body's first statement: a docstring only opens a body, and a string
        statement anywhere else does nothing. (The model, which cannot count quotes, takes
        the line after a docstring for the inside of one and offers its quotes again.)"""
        if self.language != "python" or self._in_prose or self._resume:
            return 0
        line = (self._line + text).split("\n", 1)[0]
        if not _STRING_START.match(line) or lexical.code_of(line, 0, "python").strip():
            return 0
        return int(not self._after_header)

    def open_string(self, text: str, complete: bool) -> int:
        """1 if the line ``text`` completes ends inside a string that may not span lines
        (``"…`` in Python, Java, Go…): broken code, however the cursor got there. A parse
        judges that too, but only for the leaders and not for a cursor already inside the
        string (app/engine/lexical.py says where prose is)."""
        if not complete:
            return 0
        # (a middle that stays on the line is joined by the suffix's first line)
        rest = text if "\n" in text else text + (self.suffix or "")
        line = (self._line + rest).split("\n", 1)[0]
        if line.endswith("\\"):  # continued on the next line
            return 0
        return int(lexical.in_short_string(self._resume + line, self.language))

    def repeats(self, text: str) -> int:
        """1 if the completed line copies one of the lines just above it (the cache's
        favourite mistake) or just below it in the suffix, else 0; short lines (``pass``,
        ``}``) may repeat."""
        line = (self._cursor_line + text).split("\n", 1)[0].strip()
        return int(len(line) >= 6 and line in self._recent)

    def parse_errors(self, text: str) -> int:
        """Error and missing nodes in the window with ``text`` at the cursor."""
        parser = self._parser
        if parser is None:
            return 0
        if self.whole:
            return self._whole_errors(parser, text)
        if self._in_prose:
            return 0
        counted = self._counted.get(text)
        if counted is not None:
            return counted
        texts = [text]
        # A line that opens a comment or string the next lines close (``/**``, a
        # docstring's quotes) is no error: closed for the parse, unless the suffix closes it.
        left_open = lexical.open_at_end(self._resume + self._line + text, self.language)
        if left_open is not None and left_open.closer:
            texts.append(text + left_open.closer)
        counted = self._counted[text] = min(self._window_errors(parser, t) for t in texts)
        return counted

    def _wrapper(self, parser: ts.Parser) -> str:
        """What the window is read inside of: nothing, or the construct its lines belong
        in (a class for a run of members, a function for statements) where the language
        allows them nowhere else. Cut out of their file, a window of class members
        parses with an error per line, and the recovery then makes one candidate's count
        differ from another's by chance."""
        if self._wrapping is None:
            def errors(wrapper: str) -> int:
                source = wrapper + self._sample
                opened = lexical.open_brackets(lexical.code_of(source, 0, self.language))
                closed = source + "\n" + lexical.closers(opened)
                return _count_errors(parser.parse(closed.encode("utf-8")).root_node)
            wrappers = _WRAPPERS.get(self.language or "", ("",))
            self._wrapping = min(wrappers, key=errors) if self._sample.strip() else ""
        return self._wrapping

    def _window_errors(self, parser: ts.Parser, text: str) -> int:
        joined = (self._cursor_line + text + "\n".join(self._tail)).split("\n")
        source = self._wrapper(parser) + "\n".join(
            [self._head, *(_dedent(line, self._depth) for line in joined)])
        # The window stops where the file goes on: the brackets it leaves open are closed
        # for the parse (an unclosed window makes the parser's recovery, and so the error
        # counts, differ between candidates for no fault of theirs). A line that ends
        # opening a block or a call the next lines finish (``{``, ``(``, ``,``) adds no
        # error by that either (a Python header split over lines then gets its colon);
        # one that stops mid-argument (``sum(values``) keeps its bracket open, and is
        # judged so, when nothing after it is known.
        code = lexical.code_of(source, 0, self.language)
        opened = lexical.open_brackets(code)
        if not self.suffix and not code.rstrip().endswith(_GOES_ON):
            line = self._cursor_line + text
            left = len(lexical.open_brackets(lexical.code_of(line, 0, self.language)))
            opened = opened[:max(len(opened) - left, 0)]
        if not opened:
            return _count_errors(parser.parse(source.encode("utf-8")).root_node)
        closed = source + "\n" + "\n".join(lexical.closers(opened))
        endings = [closed, closed + ":"] if self.language == "python" else [closed]
        return min(_count_errors(parser.parse(ending.encode("utf-8")).root_node)
                   for ending in endings)

    @property
    def parses(self) -> bool:
        """Whether candidates' parses are checked (a grammar for the language)."""
        return self._parser is not None

    def _whole_errors(self, parser: ts.Parser, text: str) -> int:
        """Error and missing nodes of prompt + ``text`` + suffix, reparsed as an edit of the
        tree of prompt + suffix."""
        counted = self._counted.get(text)
        if counted is not None:
            return counted
        if self._base is None:
            # A suffix cut short (the client's window) inside a comment would make every
            # candidate's count depend on how the comment is closed, not on its code.
            suffix = "\n".join(closed_lines((self.suffix or "").split("\n"), self.language))
            head, tail = self._code.encode("utf-8"), \
                suffix.encode("utf-8")
            self._base = head, tail, parser.parse(head + tail)
        head, tail, base = self._base
        middle = text.encode("utf-8")
        cursor, end = len(head), len(head) + len(middle)
        at = _point(head, cursor)
        tree = base.copy()
        tree.edit(start_byte=cursor, old_end_byte=cursor, new_end_byte=end,
                  start_point=at, old_end_point=at, new_end_point=_point(head + middle, end))
        counted = self._counted[text] = _count_errors(
            parser.parse(head + middle + tail, tree).root_node)
        return counted

    def rank(self, candidates: list[Scored[Payload]], wanted: int | None = None,
             consensus: bool = False) -> list[Scored[Payload]]:
        """``candidates`` best first (their ``score`` filled in). With ``wanted`` = 1 only
        the first is the caller's: when it parses without an error, no other candidate can
        pass it (errors only lower a score) and the others are not parsed. With
        ``consensus`` (line candidates) the leaders are ordered by the similarity they can
        expect to the line that will be written (app/engine/consensus.py)."""
        for candidate in candidates:
            candidate.penalty = (UNSEEN_PENALTY * self.unseen(candidate.text,
                                                              candidate.complete)
                                 + REPEAT_PENALTY * self.repeats(candidate.text)
                                 + PARSE_PENALTY * (self.stray_string(candidate.text)
                                                    + self.open_string(candidate.text,
                                                                       candidate.complete)))
            candidate.score = (candidate.logprob / length_penalty(candidate.length)
                               - candidate.penalty)
        ranked = sorted(candidates, key=lambda c: -c.score)
        if consensus:
            order = consensus_order([c.text for c in ranked],
                                    [c.logprob - c.penalty for c in ranked])
            ranked = [ranked[i] for i in order]
        if self._parser is not None and len(ranked) > 1 and self.whole:
            # Every block is parsed (a search keeps a handful): one that parses loses to
            # none that breaks it.
            counts = {id(c): self.parse_errors(c.text) for c in ranked}
            least = min(counts.values())
            for candidate in ranked:
                candidate.score -= PARSE_PENALTY * (counts[id(candidate)] - least)
            ranked.sort(key=lambda c: (counts[id(c)], -c.score))
        elif self._parser is not None and len(ranked) > 1:
            # Parsing costs a fraction of a millisecond: only the leaders are checked.
            leaders = ranked[:PARSED]
            first = self.parse_errors(leaders[0].text)
            if first == 0 and wanted == 1:
                return ranked
            errors = [first, *(self.parse_errors(c.text) for c in leaders[1:])]
            least = min(errors)
            for candidate, count in zip(leaders, errors, strict=True):
                candidate.score -= PARSE_PENALTY * (count - least)
            if consensus:  # those that add errors go last, the others keep their order
                leaders = [c for c, count in sorted(zip(leaders, errors, strict=True),
                                                    key=lambda pair: pair[1] > least)]
            else:
                leaders.sort(key=lambda c: -c.score)
            ranked = leaders + ranked[PARSED:]
        return ranked


Payload = TypeVar("Payload")


@dataclass
class Scored(Generic[Payload]):
    """A candidate as the ranker sees it (``payload``: what the caller ranks by it)."""

    text: str
    logprob: float
    length: int
    complete: bool
    payload: Payload
    score: float = -math.inf
    penalty: float = 0.0  # what the ranker took off for names and repeats, in nats


def _within(tail: list[str], window: str, language: str | None) -> list[str]:
    """The suffix's ``tail`` lines up to the one that closes the last bracket ``window``
    leaves open: the lines after it belong to code around the window (a class's next
    members after a method's body), which parsed with the window closes brackets it never
    opened."""
    if not tail:
        return tail
    opened = len(lexical.open_brackets(lexical.code_of(window, 0, language)))
    if not opened:
        return tail
    for number in range(len(tail)):
        code = lexical.code_of(window + "\n".join(tail[:number + 1]), 0, language)
        if len(lexical.open_brackets(code)) == 0:
            return tail[:number + 1]
    return tail


def closed_lines(lines: list[str], language: str | None) -> list[str]:
    """The leading ``lines`` that leave no block comment or multi-line string open: a
    window cut inside a docstring or ``/** … */`` makes the parse of everything before it
    depend on how each candidate happens to end, not on whether it is code."""
    text = "\n".join(lines)
    span = lexical.open_block(text, language)
    return lines if span is None else lines[:text.count("\n", 0, span.start)]


_GOES_ON = ("(", "[", "{", ",")
# The constructs a window's lines may belong in, per language, tried in order (the first
# with the fewest errors wins): where members or statements are allowed at the top level,
# nothing.
_WRAPPERS: dict[str, tuple[str, ...]] = {
    "java": ("", "class _ {\n", "class _ { void _() {\n"),
    "csharp": ("", "class _ {\n", "class _ { void _() {\n"),
    "rust": ("", "fn _() {\n", "impl _ {\n"),
    "go": ("", "func _() {\n"),
    "typescript": ("", "class _ {\n"),
    "javascript": ("", "class _ {\n"),
}
# The names a method's object goes by, per language (Go names its receivers freely).
_RECEIVERS = {"python": {"self", "cls"}, "rust": {"self"}, "javascript": {"this"},
              "typescript": {"this"}, "tsx": {"this"}, "java": {"this"}, "csharp": {"this"}}
# What follows a member the line assigns (``self.x =``, ``self.x: int =``): a new one.
_ASSIGNED = re.compile(r"[ \t]*(?:=(?!=)|:[^=\n]*=(?!=))")
# The receiver a member name follows (``self`` of ``self.``), at the end of the text.
_MEMBER_OF = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)[ \t]*\.[ \t]*$")
_PYTHON_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "self", "cls"}
_STAR_IMPORT = re.compile(r"^\s*from\s+\S+\s+import\s+\*", re.MULTILINE)
# Names a Python line binds rather than reads: assignment targets and keyword arguments
# (``x =``, ``f(x=1)``), loop and ``as`` targets, a definition's name and parameters, what
# an import brings in.
_BINDING_LINE = re.compile(r"^\s*(?:async\s+)?(?:def|class|import|from|global|nonlocal|lambda)\b")
_TARGETS = re.compile(r"\b(?:for|as)\s+([\w\s,()*]+?)(?=\s+in\b|[:,)\]]|$)|"
                      r"([A-Za-z_]\w*)\s*(?:=(?!=)|:\s*[\w\[\].]+\s*=(?!=))")


def _python_bound(code: str) -> set[str]:
    """The names the Python ``code`` (one line and what follows it) binds itself."""
    bound: set[str] = set()
    for line in code.split("\n"):
        if _BINDING_LINE.match(line):
            bound.update(IDENTIFIER.findall(line))
            continue
        assignment = re.match(r"^\s*([\w\s,.*\[\]()]+?)\s*(?<![=!<>+\-*/%&|^@:])=(?!=)", line)
        if assignment:
            bound.update(_bare_names(assignment.group(1)))
        for match in _TARGETS.finditer(line):
            if match.group(1):
                bound.update(_bare_names(match.group(1)))
            elif not _is_attribute(line, match.start(2)):  # ``self.x = x`` binds no ``x``
                bound.add(match.group(2))
        if "lambda" in line:
            for params in re.findall(r"lambda([^:]*):", line):
                bound.update(IDENTIFIER.findall(params))
    return bound


def _bare_names(code: str) -> list[str]:
    """The names of ``code`` that are not attributes (``a`` and ``b`` of ``a.x, b``)."""
    return [m.group() for m in IDENTIFIER.finditer(code) if not _is_attribute(code, m.start())]


def _is_attribute(code: str, start: int) -> bool:
    """Whether the name at ``start`` follows a dot (``obj.name``)."""
    at = start - 1
    while at >= 0 and code[at] in " \t":
        at -= 1
    return at >= 0 and code[at] == "."
_STRING_START = re.compile(r"\s*[rRbBuUfF]{0,2}[\"']")


def _dedent(line: str, depth: int) -> str:
    cut = min(depth, _indent(line))
    return line[cut:]


def _from_code_line(prompt: str) -> str:
    """``prompt`` from its first unindented line of code (not a comment's, not a closer's),
    where no bracket, string or comment is open: a prompt the client cut short in the middle
    of a declaration makes the parser wrap most of it in one error, whatever follows."""
    if not prompt[:1].isspace() and not prompt.startswith(_NOT_A_START):
        return prompt
    at = prompt.find("\n")
    while at >= 0:
        start, at = at + 1, prompt.find("\n", at + 1)
        line = prompt[start:at] if at >= 0 else prompt[start:]
        if line.strip() and not line[0].isspace() and not line.startswith(_NOT_A_START):
            return prompt[start:]
    return prompt


_NOT_A_START = ("*", "}", ")", "]", "/", "#")


def _point(data: bytes, byte: int) -> tuple[int, int]:
    """The (row, column in bytes) of ``byte`` in ``data``, as tree-sitter counts them."""
    return data.count(b"\n", 0, byte), byte - (data.rfind(b"\n", 0, byte) + 1)


def _count_errors(node: ts.Node) -> int:
    if not node.has_error:
        return 0
    count = 0
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_missing or current.type == "ERROR":
            count += 1
        stack.extend(child for child in current.children if child.has_error or
                     child.is_missing)
    return count
