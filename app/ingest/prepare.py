"""The pure half of ingesting one file: read, hash, decode, detect, tokenize, analyze.

Nothing here touches the store, so it runs the same in the writer's process (``--workers 1``)
and in worker processes (:mod:`app.ingest.workers`); the writer only stores what it returns,
in the walk's order. What a file turns into depends on its bytes, the vocabulary and the
digest stored for its path, never on which process prepared it, which is why ``--workers N``
builds the same hypercube as ``--workers 1``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.detect import detect_language
from app.ingest.protocols import Preparer
from app.ingest.walk import Skipped
from app.tokenizer import Tokenizer


@dataclass(frozen=True)
class Task:
    """One file to prepare, with what the store knows of its path (``None``: a new file)."""

    path: Path
    size: int
    known: tuple[int, str] | None  # (document id, content hash) stored under this path


@dataclass(frozen=True)
class Unchanged:
    """The file's content hash is the one already stored: nothing to write."""

    path: Path


@dataclass(frozen=True)
class Prepared:
    """A new or changed file, ready for the writer to store."""

    path: str
    text: str
    digest: str
    size: int
    language: str
    old_id: int | None  # the document it replaces
    tokens: np.ndarray
    # Each analyzer's facts, by analyzer name (see :class:`app.ingest.protocols.Analyzer`).
    facts: Mapping[str, object]


Outcome = Prepared | Unchanged | Skipped


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def prepare(task: Task, tokenizer: Tokenizer,
            preparers: Sequence[tuple[str, Preparer]]) -> Outcome:
    """What one file becomes: skipped with a reason, unchanged, or prepared for storing."""
    data = read(task)
    if isinstance(data, Skipped):
        return data
    return prepare_bytes(task, data, tokenizer, preparers)


def read(task: Task) -> bytes | Skipped:
    """The file's bytes, or why it cannot be read."""
    try:
        return task.path.read_bytes()
    except OSError as exc:
        return Skipped(task.path, f"cannot read: {exc.strerror}")


def triage(task: Task) -> bytes | Unchanged | Skipped:
    """What the writer's machine finds before anything is sent elsewhere: the bytes to
    prepare, or already the outcome (unreadable, or the content hash already stored)."""
    data = read(task)
    if isinstance(data, bytes) and task.known is not None and \
            task.known[1] == content_hash(data):
        return Unchanged(task.path)
    return data


def prepare_bytes(task: Task, data: bytes, tokenizer: Tokenizer,
                  preparers: Sequence[tuple[str, Preparer]]) -> Outcome:
    """:func:`prepare` of bytes already read (maybe on another machine than the one
    preparing them: ``task.path`` is only a name here)."""
    digest = content_hash(data)
    if task.known is not None and task.known[1] == digest:
        return Unchanged(task.path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(task.path, f"not UTF-8 text (byte {exc.start})")
    path = str(task.path)
    language = detect_language(task.path, data[:4096])
    facts = {name: preparer(path, text, language) for name, preparer in preparers}
    return Prepared(path, text, digest, len(data), language,
                    None if task.known is None else task.known[0], tokenizer.encode(text),
                    facts)
