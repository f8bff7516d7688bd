"""Where a completion ends: the rest of the line, or the block the cursor opens.

``line`` ends at the first newline (the completion never holds one). ``block`` applies when
the prompt's last line (or, at the start of an empty line, the one before it) opens a block
(``:``, ``{``, ``=>`` …): the completion runs to the first non-blank line indented no deeper
than the line that opened it (left out: it belongs to the code after the block) or, when the
block was opened with a bracket, through the line whose bracket closes it. ``auto`` is
``block`` when the cursor opens one, else ``line``.

The trackers here are fed the completion's text as it grows and say where it ends; they
copy cheaply, since every candidate of a search carries its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Line endings that open a block, after trailing whitespace (and a line comment) are gone.
_OPENER = re.compile(r"(?::|\{|\(|\[|=>|->|\bdo|\bthen)$")
_LINE_COMMENT = re.compile(r"\s*(?://|#)[^'\"]*$")
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = {opener: closer for closer, opener in _CLOSERS.items()}
# A Rust lifetime or label: a quote, a name, and no closing quote right after one letter.
_LIFETIME = re.compile(r"'[A-Za-z_]\w*(?!')")
_WORD = re.compile(r"[A-Za-z_$'\"`]\w*")
# Words a statement goes on with after a block's closing bracket.
_AFTER_CLOSE = frozenset({"else", "catch", "finally", "while", "as", "satisfies"})
_COMPOUND = re.compile(r"\s*(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|"
                       r"finally|with|match|case)\b")
_TAB = 4
_UNIT_LINES = 200  # lines above the cursor that show the file's indentation step


def code_before_comment(line: str) -> str:
    """``line`` without trailing blanks and a trailing line comment (one whose text holds
    no quote, which might mean the ``#`` or ``//`` is inside a string)."""
    return _LINE_COMMENT.sub("", line.rstrip()).rstrip()


def resolve_scope(scope: str | None, prompt_text: str, suffix: str | None) -> str:
    """``free``, ``line`` or ``block`` for the requested scope (None: ``auto`` with a
    suffix, ``free`` without)."""
    if scope is None:
        scope = "auto" if suffix is not None else "free"
    if scope == "auto":
        return "block" if opener_line(prompt_text) is not None else "line"
    return scope


def opener_line(prompt_text: str) -> str | None:
    """The line that opens the block at the cursor, or None when the cursor opens none."""
    lines = prompt_text.split("\n")
    last = lines[-1]
    if not last.strip() and len(lines) > 1:
        last = lines[-2]
    code = code_before_comment(last)
    stripped = code.lstrip()
    if not stripped or stripped.startswith(("#", "//", "*", "/*")):
        return None
    return last if _OPENER.search(code) else None


def opens_body(prompt_text: str) -> bool:
    """Whether the opener at the cursor starts a body on the lines below: a ``{`` or a
    compound statement's ``:``. (After ``(``, ``=>`` or ``lambda x:`` the code often goes
    on on the same line.)"""
    opener = opener_line(prompt_text)
    if opener is None:
        return False
    code = code_before_comment(opener)
    if code.endswith("{"):
        return True
    # (``def f(\n    a: int,\n) -> None:``: the statement starts lines above; a body
    # opened by a colon is Python's)
    return code.endswith(":") and bool(_COMPOUND.match(code) or _COMPOUND.match(
        statement_line(prompt_text, "python")))


def body_indent(prompt_text: str, language: str | None) -> int | None:
    """The indentation of the first line of the body the cursor's opener starts (one step
    of the file's own deeper than the opener), or None: no body starts here, or the step is
    not known."""
    if not opens_body(prompt_text):
        return None
    opener = opener_line(prompt_text)
    unit = indent_unit(prompt_text.split("\n")[-_UNIT_LINES:], language)
    if opener is None or unit is None:
        return None
    return indent_width(statement_head(prompt_text, language)) + unit


def python_indent_limit(prompt_text: str) -> int | None:
    """At the start of a Python line whose line above opens nothing, the deepest the new
    line may be indented: that line's indentation (deeper is an IndentationError). None
    elsewhere: mid-line, below an opener, or where a bracket, a string or a backslash may
    still be open."""
    lines = prompt_text.split("\n")
    if len(lines) < 2 or lines[-1].strip():
        return None
    previous = next((line for line in reversed(lines[:-1]) if line.strip()), None)
    if previous is None or prompt_text.count('"""') % 2 or prompt_text.count("'''") % 2:
        return None
    code = code_before_comment(previous)
    if code.endswith(("(", "[", "{", ",", "\\", ":", "=", "+", "-", "*", "/", "|", "&")):
        return None
    depth = sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
    return indent_width(previous) if depth <= 0 else None


def indent_unit(lines: list[str], language: str | None) -> int | None:
    """The file's indentation step: the commonest step into a block in ``lines`` (PEP 8's
    four spaces for Python when they show none; None when unknown)."""
    steps: dict[int, int] = {}
    previous: str | None = None
    for line in lines:
        if not line.strip():
            continue
        if previous is not None and previous.rstrip().endswith((":", "{")):
            step = indent_width(line) - indent_width(previous)
            if step > 0:
                steps[step] = steps.get(step, 0) + 1
        previous = line
    if steps:
        return max(steps, key=lambda step: (steps[step], -step))
    return 4 if language == "python" else None


def first_body_indent(line_head: str, text: str, opener_here: bool,
                      deeper_than: int | None = None) -> int | None:
    """The indentation of the body's first line in a completion ``text`` of the line
    ``line_head``, once that line shows a character, or as soon as its blanks are
    ``deeper_than`` that many columns already (None before)."""
    lines = (line_head + text).split("\n")
    body = lines[1:] if opener_here else lines
    for number, line in enumerate(body):
        if line.strip():
            return indent_width(line)
        width = indent_width(line)
        if number == len(body) - 1 and deeper_than is not None and width > deeper_than:
            return width
    return None


def indent_width(text: str) -> int:
    width = 0
    for char in text:
        if char == " ":
            width += 1
        elif char == "\t":
            width += _TAB
        else:
            break
    return width


@dataclass
class BlockEnd:
    """Finds the end of the block the cursor opens in a growing completion.

    ``feed(text)`` returns the length of the completion (in characters of all text fed so
    far) once its end is known, else None; ``finish()`` the length at the end of the
    generation.
    """

    opener_indent: int
    brackets: bool
    # The text of the line the cursor is on before the completion (its indentation counts
    # for the completion's first line when the cursor sits at that line's start).
    line_head: str
    # The brackets the opener's line leaves open, innermost last (``foo(function() {``:
    # ``({``). The block closes them and no more: a closer past those, or of another kind,
    # belongs to code the model saw elsewhere (a method's ``{`` ends at ``}``, not at the
    # ``});`` of a callback), and the block ends before it.
    outer: str = ""
    # The opener line's indentation, for the closing line a block left open is given.
    opener_head: str = ""
    text: str = ""
    scanned: int = 0
    line_start: int = 0          # where the current line starts in ``text``
    first_line: bool = True      # the current line began before the completion
    decided: bool = False        # the current line's indentation has been judged
    closing_line: bool = False   # the line is at the opener's indentation, a closer first
    inner: str = ""              # brackets the completion opened and has not closed
    inner_heads: tuple[str, ...] = ()  # the indentation of the line each was opened on
    closed: bool = False         # the completion closed one of the opener's brackets
    closed_at: int = -1          # where, in ``text``
    quote: str = ""
    escaped: bool = False
    comment: str = ""            # "//" to the line's end, "/*" to its "*/"
    # Rust: ``'a`` and ``'_`` are lifetimes and labels, not the start of a character.
    lifetimes: bool = False
    unterminated: int = 0        # lines that ended inside a string that cannot span lines

    @classmethod
    def for_prompt(cls, prompt_text: str, language: str | None = None) -> BlockEnd:
        lifetimes = language == "rust"
        opener = opener_line(prompt_text)
        line_head = prompt_text.rsplit("\n", 1)[-1]
        at_opener = bool(line_head.strip())
        if opener is None:
            # No opener at the cursor: the block is the rest of the one it is in, which
            # ends at the first line indented less than the last one written.
            last = next((line for line in reversed(prompt_text.split("\n"))
                         if line.strip()), "")
            return cls(opener_indent=indent_width(last) - 1, brackets=False,
                       line_head=line_head, decided=at_opener, lifetimes=lifetimes)
        code = code_before_comment(opener)
        brackets = code.endswith(("{", "(", "["))
        head = statement_head(prompt_text, language)
        end = cls(opener_indent=indent_width(head), brackets=brackets,
                  line_head=line_head,
                  outer=unclosed_brackets(code, lifetimes) if brackets else "",
                  opener_head=head, lifetimes=lifetimes)
        # The cursor right after the opener: the rest of that line is not yet the body.
        end.decided = at_opener
        return end

    def copy(self) -> BlockEnd:
        return BlockEnd(**self.__dict__)

    def feed(self, new: str) -> int | None:
        self.text += new
        text = self.text
        for position in range(self.scanned, len(text)):
            char = text[position]
            if char == "\n":
                if self.closing_line:
                    # A line at the opener's indentation that closed a bracket of the
                    # completion's own, not the block's: the block ends with it.
                    return position
                self.line_start = position + 1
                self.first_line = False
                self.decided = False
                if self.quote in ("'", '"'):
                    if self._string_cannot_span(text, position):
                        self.unterminated += 1
                    self.quote = ""
                if self.comment == "//":
                    self.comment = ""
                continue
            if not self.decided and char not in " \t":
                self.decided = True
                head = self.line_head if self.first_line else ""
                indent = indent_width(head + text[self.line_start:position])
                if indent <= self.opener_indent:
                    # A bracket's block closes at its opener's indentation: a closer further
                    # left closes code around it, and the block ends before that line.
                    if self.brackets and char in _CLOSERS and indent == self.opener_indent:
                        self.closing_line = True
                    else:
                        return max(self.line_start - 1, 0)
            if not self._scan(text, position) and self.brackets:
                return position
            if self.brackets and self.closed:
                # The block ends with its own closing bracket: what follows on that line
                # (`);`, `,`, ` else {`) is the code around the block, the suffix's.
                return self.closed_at + 1
        self.scanned = len(text)
        return None

    def _string_cannot_span(self, text: str, end: int) -> bool:
        """Whether the string open at the line break at ``end`` is one that may not span
        lines: Rust's may; so may Python's triple-quoted ones, whose quotes this scanner
        reads as pairs (a docstring's line, or prose inside one, is no broken string)."""
        if self.lifetimes and self.quote == '"':
            return False
        line = text[text.rfind("\n", 0, end) + 1:end]
        if '"""' in line or "'''" in line:
            return False
        written = self.line_head + text[:end]
        return not (written.count('"""') % 2 or written.count("'''") % 2)

    def _scan(self, text: str, position: int) -> bool:
        """Take in ``text[position]``; False for a closer the block may not write."""
        char = text[position]
        if self.comment:
            if self.comment == "/*" and char == "/" and text[position - 1] == "*":
                self.comment = ""
            return True
        if self.quote:
            if self.escaped:
                self.escaped = False
            elif char == "\\":
                self.escaped = True
            elif char == self.quote:
                self.quote = ""
            return True
        if char in "/#":
            ahead = text[position + 1:position + 2]
            if char == "/" and ahead in ("/", "*"):
                self.comment = "/" + ahead
            elif char == "#" and ahead == " ":
                self.comment = "//"
            return True
        if char in "'\"`":
            if char == "'" and self.lifetimes and _LIFETIME.match(text, position):
                return True
            self.quote = char
        elif char in "([{":
            self.inner += char
            line = text[text.rfind("\n", 0, position) + 1:position]
            self.inner_heads += (line[:len(line) - len(line.lstrip(" \t"))],)
        elif char in _CLOSERS:
            want = _CLOSERS[char]
            if self.inner:
                if self.inner[-1] != want:
                    return False
                self.inner = self.inner[:-1]
                self.inner_heads = self.inner_heads[:-1]
            elif self.outer and self.outer[-1] == want:
                self.outer = self.outer[:-1]
                if not self.closed:
                    self.closed, self.closed_at = True, position
            elif self.brackets:
                return False
        return True

    def plausible_close(self, text: str) -> bool:
        """Whether a block closed in ``text`` (the completion so far) reads as code: it has
        a body, and its closing line goes on with punctuation or a keyword that continues a
        statement (``} else {``, ``});``), not with words of some other code (the ``} from
        'rxjs';`` of an import a model with a copy cache offers after any ``{``)."""
        if not self.closed:
            return True
        line_start = text.rfind("\n", 0, self.closed_at) + 1
        if not text[:line_start].strip():
            return False  # an empty body: no completion
        tail = text[self.closed_at + 1:].split("\n", 1)[0].strip()
        word = _WORD.match(tail)
        # (a word still being written is judged by what it may become)
        return word is None or any(w.startswith(word.group()) for w in _AFTER_CLOSE)

    def closing(self, text: str, suffix: str | None) -> str:
        """``text`` (a finished completion) with the lines that close the braces it left
        open and the opener's brackets, when the block ended without them (the model moved
        on to the code after the block, or the budget ran out) between statements; a
        closer the suffix has at the opener's indentation is left to the suffix."""
        if not self.brackets or not text.strip():
            return text
        scan = self.copy()
        # (a `//` comment ends with its line: the closing lines come after it)
        if scan.feed(text) is not None or scan.closed or scan.quote or scan.comment == "/*":
            return text
        if not scan.outer or scan.inner.strip("{"):
            return text  # inside an expression: no line of closers would end it
        closers = "".join(_OPENERS[c] for c in reversed(scan.outer))
        lines = [head + "}" for head in reversed(scan.inner_heads)]
        closers = _closers_left(suffix, self.opener_indent, closers)
        if closers:
            lines.append(self.opener_head + closers)
        if not lines:
            return text
        return text.rstrip(" \t\n") + "".join("\n" + line for line in lines)

    def closed_empty(self, suffix: str | None) -> str:
        """The block the opener's brackets open, closed with nothing in it: its closing
        line (none when the suffix holds it)."""
        closers = _closers_left(suffix, self.opener_indent,
                                "".join(_OPENERS[c] for c in reversed(self.outer)))
        return "\n" + self.opener_head + closers if closers else ""

    def finish(self) -> int:
        """The completion's length when the generation ends without a decision: all of it,
        less trailing blank lines."""
        return len(self.text.rstrip(" \t\n")) if self.text.strip() else len(self.text)


def _closers_left(suffix: str | None, indent: int, closers: str) -> str:
    """What of ``closers`` the completion must write itself: the suffix may start with
    (the end of) them on the cursor's line (``);`` after ``next({``: ``}``), or have them
    on its first line below at the opener's indentation (one further left closes more)."""
    if not suffix:
        return closers
    same_line, _, below = suffix.partition("\n")
    if same_line.strip():
        head = same_line.lstrip()
        return next((closers[:j] for j in range(len(closers))
                     if head.startswith(closers[j:])), closers)
    first = next((line for line in below.split("\n") if line.strip()), "")
    if indent_width(first) == indent and first.lstrip().startswith(closers):
        return ""
    return closers


# Lines above the cursor scanned for the bracket a closing line closes.
CLOSER_SCAN_LINES = 200
# What hides brackets: strings, comments (C-like languages; Rust's `'a` is a lifetime, so
# its quotes hold one character), and what to look at in the rest: brackets, line starts.
_STRING_OR_COMMENT = r'"(?:\\.|[^"\\\n])*"|`[^`]*`|//[^\n]*|/\*.*?\*/'
_HIDING = {
    "python": re.compile(r'"""(?:\\.|[^\\])*?"""|\'\'\'(?:\\.|[^\\])*?\'\'\'|#[^\n]*'
                         r'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL),
    "rust": re.compile(_STRING_OR_COMMENT + r"|'(?:\\.[^'\n]*|[^'\\\n])'", re.DOTALL),
    None: re.compile(_STRING_OR_COMMENT + r"|'(?:\\.|[^'\\\n])*'", re.DOTALL),
}
_BRACKET_OR_LINE = re.compile(r"[()\[\]{}]|\n[ \t]*")


def _line_breaks(match: re.Match[str]) -> str:
    return "\n" * match.group().count("\n")


def closer_indent(prompt_text: str, language: str | None) -> int | None:
    """At the start of a line of a braced language, the indentation a closing bracket
    there must have: that of the line holding the innermost bracket still open (``}``
    under ``if (x) {`` goes where the ``if`` is). None mid-line, for Python, or when no
    bracket is open in the lines looked at (they start at an unindented line, where no
    string or comment is open)."""
    if language in (None, "python"):
        return None
    lines = prompt_text.split("\n")
    if lines[-1].strip():
        return None
    window = lines[-CLOSER_SCAN_LINES - 1:-1]
    start = next((i for i, line in enumerate(window)
                  if line.strip() and not line[0].isspace()), 0)
    hiding = _HIDING.get(language, _HIDING[None])
    code = hiding.sub(_line_breaks, "\n" + "\n".join(window[start:]))
    heads: list[int] = []   # the indentation of each open bracket's line, innermost last
    line_indent = 0
    for found in _BRACKET_OR_LINE.finditer(code):
        token = found.group()
        if token[0] == "\n":
            line_indent = indent_width(token[1:])
        elif token in "([{":
            heads.append(line_indent)
        elif heads:
            heads.pop()
    return heads[-1] if heads else None


def statement_line(prompt_text: str, language: str | None) -> str:
    """The line the statement of the cursor's opener line starts on: the opener line itself,
    unless it closes a bracket an earlier line opened (``) throws IOException {`` under
    ``void f(A a,``; ``) -> None:`` under ``def f(``), when it is that line (of the
    outermost bracket it closes). A block's body and its closer are indented from it."""
    lines = prompt_text.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        lines = lines[:-1]
    window = lines[-CLOSER_SCAN_LINES - 1:]
    opener = window[-1]
    if not any(c in opener for c in ")]}"):
        return opener
    # From the first line at the window's least indentation (not inside a comment), where
    # no bracket, string or comment is open.
    code_lines = [(indent_width(line), i) for i, line in enumerate(window[:-1])
                  if line.strip() and not line.lstrip().startswith("*")]
    start = min(code_lines)[1] if code_lines else len(window) - 1
    hiding = _HIDING.get(language, _HIDING[None])
    code = hiding.sub(_line_breaks, "\n".join(window[start:]))
    opener_at = code.rfind("\n") + 1
    # The line each open bracket is on, innermost last (None: the opener line).
    opened_on: list[int | None] = []
    outermost: int | None = None
    number = start
    for found in _BRACKET_OR_LINE.finditer(code):
        token = found.group()
        if token[0] == "\n":
            number += 1
        elif token in "([{":
            opened_on.append(number if found.start() < opener_at else None)
        elif opened_on:
            line = opened_on.pop()
            if line is not None and found.start() >= opener_at:
                outermost = line if outermost is None else min(outermost, line)
    return opener if outermost is None else window[outermost]


def statement_head(prompt_text: str, language: str | None) -> str:
    """The indentation of :func:`statement_line`."""
    line = statement_line(prompt_text, language)
    return line[:len(line) - len(line.lstrip(" \t"))]


def unclosed_brackets(line: str, lifetimes: bool = False) -> str:
    """The brackets ``line`` opens and leaves open (outside its strings), innermost last;
    a closer with nothing open on the line closes an older line's bracket."""
    scan = BlockEnd(opener_indent=0, brackets=False, line_head="", lifetimes=lifetimes)
    for position in range(len(line)):
        scan._scan(line, position)
    return scan.inner


@dataclass(frozen=True)
class SuffixLine:
    """The suffix's first non-blank line: when the completion writes it, the suffix has taken
    over. A whole line of the suffix (after a line break in it) is matched with its
    indentation, so a block's own closing ``    }`` is not taken for the ``}`` that closes the
    code around it; the rest of the cursor's line is matched stripped."""

    text: str            # stripped
    indent: int | None   # the line's indentation width, None for the cursor line's rest

    def matches(self, line: str, whole: bool = True) -> bool:
        if line.strip() != self.text:
            return False
        return self.indent is None or not whole or indent_width(line) == self.indent


def suffix_first_line(suffix: str | None) -> SuffixLine | None:
    if not suffix:
        return None
    for index, line in enumerate(suffix.split("\n")):
        if line.strip():
            return SuffixLine(line.strip(), indent_width(line) if index else None)
    return None


def suffix_takeover(text: str, first_line: SuffixLine | None, complete: bool) -> int | None:
    """Where a multi-line completion starts repeating the suffix: the start of its first
    line that is the suffix's first non-blank line (only whole lines count: the last one
    only when ``complete``)."""
    if first_line is None:
        return None
    lines = text.split("\n")
    start = 0
    for index, line in enumerate(lines):
        whole = index < len(lines) - 1 or complete
        if whole and first_line.matches(line, whole=index > 0):
            return max(start - 1, 0)
        start += len(line) + 1
    return None


def join_line(middle: str, suffix: str | None) -> str:
    """A line completion whose end the suffix also holds, cut where the suffix begins
    (``total = sum(x)`` before the suffix ``)`` keeps ``total = sum(x``)."""
    if not suffix:
        return middle
    head = suffix.split("\n", 1)[0]
    if not head.strip():
        return middle
    tail = head.rstrip()
    if tail and middle.endswith(tail):
        return middle[:len(middle) - len(tail)]
    for size in range(min(len(middle), len(tail)) - 1, 0, -1):
        if middle.endswith(tail[:size]) and tail[:size].strip():
            return middle[:len(middle) - size]
    return middle
