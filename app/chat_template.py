"""The chat template: how a conversation becomes the text the engine continues.

The messages' contents are written one after another, each followed by a blank line, and the
model continues the text from there::

    You write Python.

    Write a function that adds two numbers.

    def add(a, b):

Roles are validated (``system``, ``developer``, ``user``, ``assistant``, ``tool``) but not
written into the text. The model is a statistical model of the ingested text and code: it
has never seen role markers, so marked turns only taught it to copy the markers back (or to
answer with nothing once they were stop sequences); plain text lets it continue the
conversation the way the corpus continues similar text. A reply ends at the caller's stop
sequences, at ``max_tokens``, or where the corpus ends a block: two blank lines in a row
(:data:`STOPS`), which in code ends a top-level definition. Content is a string or an array of
text parts, joined without separators; empty content is allowed and adds nothing. The same
template serves the chat endpoint, ``/tokenize`` with ``messages`` (so clients can count a
conversation's tokens exactly) and ``hypercube chat``.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = {"system": "system", "developer": "system", "user": "user",
         "assistant": "assistant", "tool": "tool"}
SEPARATOR = "\n\n"
STOPS = ["\n\n\n"]


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    name: str | None = None


def render(messages: list[Message]) -> str:
    return "".join(message.content + SEPARATOR for message in messages if message.content)
