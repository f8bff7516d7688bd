"""Which declared tool, if any, fits a request: a small matcher over words.

``tool_choice: "auto"`` calls a tool only when the user's last message is about what the tool
does. The model cannot read instructions, so the decision is made here, from words: the
message's words are compared with each tool's name, parameter names and description, all
split the way code names are (``get_weather`` and ``getWeather`` are "get" and "weather"),
lower-cased, with a plural "s" dropped and common words ignored. A word of the name or of a
parameter name counts more than a word of the description. A tool fits when a word of its
name (other than a generic verb such as "get") is in the message, or when two or more of its
words are; the best-scoring fit wins, the first declared on a tie. The grounded-chat router
calls :func:`best_tool` as well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

NAME_WEIGHT = 3.0
PARAMETER_WEIGHT = 2.0
DESCRIPTION_WEIGHT = 1.0
# A tool fits with one distinctive name word, or with this many words in all.
MIN_SHARED_WORDS = 2

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Words too common to say what a request is about, and the verbs tool names start with.
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "do", "does", "for",
    "from", "get", "give", "has", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my",
    "of", "on", "or", "please", "set", "show", "tell", "that", "the", "this", "to", "use",
    "using", "want", "was", "what", "when", "where", "which", "who", "will", "with", "would",
    "you", "your", "list", "make", "find", "fetch", "call", "run", "return", "returns",
    "current", "given"})


@dataclass(frozen=True)
class ToolWords:
    """A tool as the matcher sees it."""

    name: str
    description: str = ""
    parameters: Sequence[str] = field(default_factory=tuple)


def words(text: str) -> set[str]:
    """The content words of ``text`` or of a code name, normalised (see the module)."""
    found = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in STOP_WORDS and len(word) > 1:
            found.add(word)
    return found


def score(message: str, tool: ToolWords) -> float:
    """How well ``tool`` fits ``message``: 0 if it does not fit at all."""
    said = words(message)
    name = words(tool.name) & said
    parameters = set().union(*(words(p) for p in tool.parameters)) & said if tool.parameters \
        else set()
    description = words(tool.description) & said
    shared = name | parameters | description
    if not name and len(shared) < MIN_SHARED_WORDS:
        return 0.0
    return (NAME_WEIGHT * len(name) + PARAMETER_WEIGHT * len(parameters - name)
            + DESCRIPTION_WEIGHT * len(description - name - parameters))


def best_tool(message: str, tools: Sequence[ToolWords]) -> int | None:
    """Index of the tool that fits ``message`` best, or None if none fits."""
    best, best_score = None, 0.0
    for index, tool in enumerate(tools):
        value = score(message, tool)
        if value > best_score:
            best, best_score = index, value
    return best


def ranked(message: str, tools: Sequence[ToolWords]) -> list[int]:
    """Every tool's index, best fit first (ties in declaration order)."""
    scores = [score(message, tool) for tool in tools]
    return sorted(range(len(tools)), key=lambda i: -scores[i])
