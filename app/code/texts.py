"""Document text for snippets and match checking, rebuilt from the stored token streams.

The hypercube does not keep a second copy of each file: the tokenizer is lossless, so a
document's text is its tokens' bytes joined. A small cache keeps recently used documents.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

import apsw
import numpy as np

from app.errors import NotFound, StoreError
from app.store.tokens import DTYPE, unpack_tokens
from app.tokenizer.vocabulary import token_bytes_of

CACHED_DOCUMENTS = 128


@dataclass
class DocumentText:
    text: str
    _line_starts: list[int] | None = None

    @property
    def line_starts(self) -> list[int]:
        """Character offset where each line starts (index 0 is line 1)."""
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            position = find("\n")
            while position >= 0:
                starts.append(position + 1)
                position = find("\n", position + 1)
            self._line_starts = starts
        return self._line_starts

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) without its newline; empty past the end."""
        starts = self.line_starts
        if not 1 <= number <= len(starts):
            return ""
        start = starts[number - 1]
        end = starts[number] - 1 if number < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1


class DocumentTexts:
    """Decodes documents of one store (the vocabulary is fixed once learned)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn
        self._token_bytes: np.ndarray | None = None
        self._cache: OrderedDict[int, DocumentText] = OrderedDict()

    def _vocabulary(self) -> np.ndarray:
        if self._token_bytes is None:
            rows = cast(list[tuple[int, str, int, bytes | None]], self._conn.execute(
                "SELECT v.token_id, v.kind, v.node, c.content FROM vocabulary v "
                "LEFT JOIN compositions c ON c.id = v.node ORDER BY v.token_id").fetchall())
            if not rows:
                raise StoreError("this hypercube has no vocabulary: nothing was ingested")
            table = np.empty(len(rows), dtype=object)
            for token_id, kind, node, content in rows:
                table[token_id] = token_bytes_of(token_id, kind, node, content)
            self._token_bytes = table
        return self._token_bytes

    def get(self, doc_id: int) -> DocumentText:
        cached = self._cache.get(doc_id)
        if cached is not None:
            self._cache.move_to_end(doc_id)
            return cached
        row = self._conn.execute("SELECT tokens FROM document_tokens WHERE doc_id = ?",
                                 (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"document {doc_id} is not in the hypercube")
        tokens = unpack_tokens(row[0], DTYPE)
        data = b"".join(self._vocabulary()[tokens].tolist())
        document = DocumentText(data.decode("utf-8", "replace"))
        self._cache[doc_id] = document
        if len(self._cache) > CACHED_DOCUMENTS:
            self._cache.popitem(last=False)
        return document

    def clear(self) -> None:
        self._cache.clear()
