"""Where a text's code is: its comments and string literals, found lexically.

Ranking judges the *code* of a candidate: its names against the code index, its parse.
The words of a comment or a string (``WITHOUT WARRANTIES``, ``Redwood Shores``) are prose,
not names the project should know, and a line written inside a ``/** … */`` or a docstring
does not parse whatever it says (the comment is still open when the prompt ends). The
parser cannot tell where that prose is (an unterminated comment is an ERROR node to it), so
a small per-language scanner does: one regular expression per language family, whose
alternatives are unambiguous (each is a run of one character class, or an escape), so
matching is linear in the text.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from dataclasses import dataclass

_LINE = r"(?P<line>{line}[^\n]*)"
_BLOCK = r"(?P<block>{open}[\s\S]*?(?:{close}|\Z))"
# A string that may not span lines ends at its quote or, unterminated, at the line's end.
_SHORT = r'{q}(?:[^{q}\\\n]|\\[\s\S])*(?:{q}|$)'
# ... one that may: at its quote or the text's end.
_LONG = r'{q}(?:[^{q}\\]|\\[\s\S])*(?:{q}|\Z)'
_TRIPLE = r'{q}{q}{q}[\s\S]*?(?:{q}{q}{q}|\Z)'
# A character literal of the C family: short and closed, so a Rust lifetime (``'a``) or a
# label is not taken for the start of one.
_CHAR = r"'(?:\\[^'\n]{1,10}|[^'\\\n])'"


def _pattern(comments: list[str], strings: list[str]) -> re.Pattern[str]:
    return re.compile("|".join([*comments, "(?P<string>" + "|".join(strings) + ")"]),
                      re.MULTILINE)


_C_COMMENTS = [_LINE.format(line="//"), _BLOCK.format(open=r"/\*", close=r"\*/")]
_PATTERNS = {
    "python": _pattern([_LINE.format(line="#")],
                       [_TRIPLE.format(q='"'), _TRIPLE.format(q="'"), _SHORT.format(q='"'),
                        _SHORT.format(q="'")]),
    "javascript": _pattern(_C_COMMENTS, [_SHORT.format(q='"'), _SHORT.format(q="'"),
                                         _LONG.format(q="`")]),
    "go": _pattern(_C_COMMENTS, [_SHORT.format(q='"'), _CHAR, _LONG.format(q="`")]),
    "rust": _pattern(_C_COMMENTS, [_LONG.format(q='"'), _CHAR]),
    "java": _pattern(_C_COMMENTS, [_TRIPLE.format(q='"'), _SHORT.format(q='"'), _CHAR]),
    "csharp": _pattern(_C_COMMENTS, [_TRIPLE.format(q='"'), r'@"(?:[^"]|"")*(?:"|\Z)',
                                     _SHORT.format(q='"'), _CHAR]),
    "c": _pattern(_C_COMMENTS, [_SHORT.format(q='"'), _CHAR]),
}
_FAMILY = {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}
# The openings of the strings each family's scanner ends at a line's end (``_SHORT``).
_SHORT_QUOTES = {"python": ('"', "'"), "javascript": ('"', "'"), "go": ('"',),
                 "java": ('"',), "csharp": ('"',), "c": ('"',)}
# How an open span is closed (the text a parse check appends), by how it starts.
_CLOSERS = {"/*": " */", '"""': '"""', "'''": "'''", '@"': '"', "`": "`", '"': '"',
            "'": "'"}


@dataclass(frozen=True)
class Prose:
    """A comment or string literal: ``text[start:end]``; ``closer`` is what would close it
    when it runs to the text's end unclosed, else ""."""

    start: int
    end: int
    kind: str  # "line", "block" (comments) or "string"
    closer: str = ""


@functools.cache
def _scanner(language: str | None) -> re.Pattern[str] | None:
    if language is None:
        return None
    return _PATTERNS.get(_FAMILY.get(language, language))


def prose(text: str, language: str | None) -> list[Prose]:
    """The comments and strings of ``text`` (read as the start of a file's code), in order."""
    scanner = _scanner(language)
    if scanner is None:
        return []
    found = []
    for match in scanner.finditer(text):
        kind = match.lastgroup or "string"
        start, end = match.span()
        found.append(Prose(start, end, kind, _open_closer(match.group(), kind)))
    return found


def _open_closer(token: str, kind: str) -> str:
    """What closes ``token`` if it is left open, "" when it is closed (or a line comment,
    which the line's end closes)."""
    if kind == "line":
        return ""
    if kind == "block":
        return "" if len(token) >= 4 and token.endswith("*/") else _CLOSERS["/*"]
    for opener in ('"""', "'''", '@"', "`", '"', "'"):
        if token.startswith(opener):
            closer = _CLOSERS[opener]
            closed = len(token) >= len(opener) + len(closer) and token.endswith(closer) \
                and not _escaped(token, len(token) - len(closer))
            return "" if closed else closer
    return ""


def _escaped(token: str, at: int) -> bool:
    """Whether the character at ``at`` follows an odd run of backslashes."""
    run = 0
    while at - run - 1 >= 0 and token[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def open_at_end(text: str, language: str | None) -> Prose | None:
    """The comment or string ``text`` ends inside (a line comment on its last line counts),
    or None when it ends in code."""
    scanner = _scanner(language)
    if scanner is None:
        return None
    last_one = deque(scanner.finditer(text), maxlen=1)  # only the last can reach the end
    match = last_one[0] if last_one else None
    if match is None or match.end() < len(text):
        return None
    kind = match.lastgroup or "string"
    last = Prose(match.start(), match.end(), kind, _open_closer(match.group(), kind))
    if last.kind == "line" or last.closer:
        return last
    return None


def open_block(text: str, language: str | None) -> Prose | None:
    """The block comment or string that may span lines (a docstring, ``/** … */``, a
    template or raw string) ``text`` ends inside, or None."""
    span = open_at_end(text, language)
    if span is None or span.kind == "line":
        return None
    token = text[span.start:]
    if span.kind == "block" or "\n" in token or token.startswith(_SPANNING):
        return span
    return None


_SPANNING = ('"""', "'''", "`", '@"')


def code_of(text: str, start: int, language: str | None) -> str:
    """``text[start:]`` with its comments and strings blanked out, character for character
    (line breaks kept), so positions in it are positions in ``text[start:]`` (``text`` read
    from a point where code starts, so that what ``start`` is inside of is known)."""
    found = prose(text, language)
    if not found:
        return text[start:]
    pieces = []
    at = start
    for span in found:
        if span.end <= at:
            continue
        if span.start > at:
            pieces.append(text[at:span.start])
        pieces.append(_BLANK.sub(" ", text[max(span.start, at):span.end]))
        at = span.end
    pieces.append(text[at:])
    return "".join(pieces)


def opener(text: str, language: str | None) -> str:
    """The opening of the block comment or string ``text`` ends inside (``/*``, ``\"\"\"``),
    "" when it ends in code or in a line comment (which the line break ends): scanning
    another text from that opening on reads it in the same state."""
    span = open_at_end(text, language)
    if span is None or span.kind == "line":
        return ""
    token = text[span.start:span.start + 3]
    if span.kind == "block":
        return "/*"
    return next(o for o in ('"""', "'''", '@"', "`", '"', "'") if token.startswith(o))


def in_short_string(text: str, language: str | None) -> bool:
    """Whether ``text`` ends inside a string that may not span lines (``x = "abc``): the
    line's end must close it."""
    if language is None:
        return False
    return opener(text, language) in _SHORT_QUOTES.get(_FAMILY.get(language, language), ())


_BLANK = re.compile(r"[^\n]")
_BRACKETS = re.compile(r"[()\[\]{}]")
_PAIRS = {")": "(", "]": "[", "}": "{"}
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def open_brackets(code: str) -> str:
    """The brackets ``code`` (comments and strings blanked: :func:`code_of`) leaves open,
    outermost first; a closer with nothing of its kind open closes code before the text."""
    stack: list[str] = []
    for match in _BRACKETS.finditer(code):
        char = match.group()
        if char in _CLOSING:
            stack.append(char)
        elif stack and stack[-1] == _PAIRS[char]:
            stack.pop()
    return "".join(stack)


def closers(opened: str) -> str:
    """The closing brackets of ``opened`` (:func:`open_brackets`), innermost first."""
    return "".join(_CLOSING[char] for char in reversed(opened))
