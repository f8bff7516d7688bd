"""Turning what users type (``FILE:LINE[:COL]``, a path) into an indexed document."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import apsw

from app.errors import InvalidRequest, NotFound


@dataclass(frozen=True)
class Position:
    path: str
    line: int
    column: int | None = None

    @classmethod
    def parse(cls, text: str) -> Position:
        """``FILE:LINE`` or ``FILE:LINE:COL`` (1-based; the path may itself contain colons)."""
        parts = text.rsplit(":", 2)
        numbers: list[int] = []
        while len(parts) > 1 and parts[-1].strip().isdigit() and len(numbers) < 2:
            numbers.insert(0, int(parts.pop()))
        if not numbers or not parts[0]:
            raise InvalidRequest(f"expected FILE:LINE or FILE:LINE:COL, got {text!r}",
                                 param="position")
        path = ":".join(parts)
        line = numbers[0]
        column = numbers[1] if len(numbers) > 1 else None
        if line < 1 or (column is not None and column < 1):
            raise InvalidRequest(f"lines and columns start at 1: {text!r}", param="position")
        return cls(path, line, column)


@dataclass(frozen=True)
class Document:
    id: int
    path: str
    language: str


# documents(id, path, language): the STRICT table holds them NOT NULL (0001_core.sql).
_DocumentRow = tuple[int, str, str]


def find_document(conn: apsw.Connection, path: str) -> Document:
    """The indexed document for ``path``: exact (after resolving), else a unique suffix."""
    if "\x00" in path:
        raise InvalidRequest("a path must not contain NUL bytes", param="path")
    candidates = [str(Path(path).resolve())] if path else []
    if path and not os.path.isabs(path):
        candidates.append(path)
    for candidate in candidates:
        row = cast(_DocumentRow | None, conn.execute(
            "SELECT id, path, language FROM documents WHERE path = ?", (candidate,)).fetchone())
        if row is not None:
            return Document(*row)
    suffix = "/" + path.lstrip("./").replace(os.sep, "/")
    rows = cast(list[_DocumentRow], conn.execute(
        "SELECT id, path, language FROM documents WHERE path LIKE ? ESCAPE '\\' LIMIT 6",
        ("%" + escape_like(suffix),)).fetchall())
    if len(rows) == 1:
        return Document(*rows[0])
    if not rows:
        raise NotFound(f"{path} is not in the hypercube: ingest it first", param="path")
    shown = ", ".join(r[1] for r in rows[:3])
    raise InvalidRequest(f"{path} matches several files ({shown}, …): give more of the path",
                         param="path")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
