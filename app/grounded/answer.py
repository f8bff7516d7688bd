"""Writing a grounded answer: one sentence of what was found, then the code, each cited.

The answer is Markdown: a short sentence, then for each item found (ranked, best first) a
line citing it as `` `display_path:line` `` and a fenced code block tagged with its
language holding the real text of the definition, call site or passage, as the hypercube
stored it. Only what was retrieved is cited; every citation is also a :class:`Source`, in
the order the answer cites them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from app.code.results import Site, Symbol

# Lines of one definition shown in full; a longer one is cut there and says so.
MAX_BLOCK_LINES = 40
CONTEXT_LINES = 2
# Markdown fence tags for the index's language names.
FENCE_TAGS = {"restructuredtext": "rst", "text": "text"}


@dataclass(frozen=True)
class Source:
    """Where a part of an answer comes from (contract 3 of the chat API)."""

    index: int
    path: str              # the document's path as stored
    display_path: str      # relative to its ingest root
    line: int
    end_line: int
    kind: str              # definition | reference | call | passage | doc | similar
    name: str | None       # qualified name, when the part is (in) a definition
    language: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """Markdown text and the sources it cites (``code`` set: the engine continues it)."""

    text: str
    sources: list[Source] = field(default_factory=list)
    intent: str = "other"
    code: str | None = None
    language: str | None = None  # the code's fence tag, when the question gave one


class Composer:
    """Builds one answer: sentences and cited blocks, numbering the sources as it goes."""

    def __init__(self, intent: str) -> None:
        self.intent = intent
        self.parts: list[str] = []
        self.sources: list[Source] = []

    def say(self, sentence: str) -> None:
        self.parts.append(sentence)

    def cite(self, *, path: str, display_path: str, line: int, end_line: int, kind: str,
             name: str | None, language: str, code: str, label: str,
             more_lines: int = 0, first_line: int | None = None) -> None:
        source = Source(len(self.sources) + 1, path, display_path, line, end_line, kind, name,
                        language)
        self.sources.append(source)
        heading = f"**{source.index}.** `{display_path}:{line}` — {label}"
        if first_line is not None and first_line != line:
            heading += f" (lines {first_line}–{end_line})"
        block = fence(code, language)
        tail = (f"\n*… {more_lines} more lines, to line {end_line}.*" if more_lines else "")
        self.parts.append(f"{heading}\n\n{block}{tail}")

    def answer(self) -> Answer:
        return Answer("\n\n".join(self.parts) + "\n", self.sources, self.intent)


def fence(code: str, language: str) -> str:
    """A fenced block that no run of backticks inside ``code`` can close early."""
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{FENCE_TAGS.get(language, language)}\n{code.rstrip()}\n{ticks}"


def cut(code: str) -> tuple[str, int]:
    """At most :data:`MAX_BLOCK_LINES` lines of ``code``, and how many were left out."""
    lines = code.split("\n")
    if len(lines) <= MAX_BLOCK_LINES:
        return code, 0
    return "\n".join(lines[:MAX_BLOCK_LINES]), len(lines) - MAX_BLOCK_LINES


def describe(symbol: Symbol) -> str:
    """``method `Store.write` `` style label of a definition."""
    return f"{symbol.kind} `{symbol.qualified_name}`"


def summary(doc: str) -> str:
    """The first paragraph of a docstring on one line."""
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def site_label(site: Site) -> str:
    where = f"in `{site.enclosing}`" if site.enclosing else "at the top level of the file"
    verb = {"call": "call", "type": "use as a type"}.get(site.kind, "reference")
    return f"{verb} {where}"
