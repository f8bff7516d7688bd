"""The chat template: how a conversation becomes the text the engine continues.

Each message is written as a role tag on its own line, the message's text, and an end tag,
and the prompt ends with the assistant's tag, so the model writes the assistant's next turn::

    <|system|>
    You are a helpful assistant.
    <|end|>
    <|user|>
    Write a function that adds two numbers.
    <|end|>
    <|assistant|>

Roles: ``system`` and ``developer`` (both written as ``system``), ``user``, ``assistant``
and ``tool``; a message's ``name``, if any, follows its role (``<|user:ann|>``). Content is a
string or an array of text parts, joined without separators; empty content is allowed (some
clients send it). Generation ends when the model writes an end tag or starts another turn
(:data:`STOPS`), besides the caller's own stop sequences. The same template serves the chat
endpoint, ``/tokenize`` with ``messages`` (so clients can count a conversation's tokens
exactly) and ``hypercube chat``.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = {"system": "system", "developer": "system", "user": "user",
         "assistant": "assistant", "tool": "tool"}
END = "<|end|>"
# A turn tag anywhere ends the reply: the model has no other way to say it is done.
STOPS = [END, "<|user", "<|system", "<|assistant", "<|tool"]


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    name: str | None = None


def render(messages: list[Message]) -> str:
    turns = []
    for message in messages:
        tag = message.role if message.name is None else f"{message.role}:{message.name}"
        turns.append(f"<|{tag}|>\n{message.content}\n{END}\n")
    return "".join(turns) + "<|assistant|>\n"
