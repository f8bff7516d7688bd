"""Project context: earlier documents of the same project, indexed for the model to draw on.

Code repeats itself most within a project, so a document is better predicted when the
model also counts the project's other files. This index holds them as extra segments,
counted like training data but ``params.context_weight`` times over (see
:meth:`app.model.Model.extended`); they live in memory only and never reach the hypercube.

Documents arrive one by one (``hypercube eval --carry-cache`` adds each file after scoring
it; fitting adds the files of held-out projects, app/model/fit.py). Rebuilding one segment
of everything after every file would cost O(n²); instead each file becomes a segment and,
like a binary counter, two neighbours are merged whenever the newer is at least as large as
the older, so there are O(log n) segments and each token is re-indexed O(log n) times.
Segments add up exactly, so the model's predictions are the same as with one segment of
all the documents.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.model.runtime import Model
from app.model.segment import Segment, build_segment


class ProjectContext:
    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self._parts: list[tuple[list[np.ndarray], Segment]] = []

    @property
    def segments(self) -> list[Segment]:
        return [segment for _, segment in self._parts]

    @property
    def tokens(self) -> int:
        return sum(segment.tokens for segment in self.segments)

    def add(self, token_ids: Sequence[int] | np.ndarray) -> None:
        """Index one more document of the project."""
        stream = np.asarray(token_ids, dtype=np.uint32)
        if not len(stream):
            return
        docs = [stream]
        size = len(stream)
        while self._parts and self._parts[-1][1].tokens <= size:
            older, segment = self._parts.pop()
            docs = [*older, *docs]
            size += segment.tokens
        self._parts.append((docs, build_segment(docs, self.vocab_size)))

    def model(self, base: Model) -> Model:
        """``base`` counting the project's documents too, each count as much as the
        parameters say (fitted on training data: app/model/fit.py fit_context_weight)."""
        if not self._parts:
            return base
        return base.extended(self.segments, base.params.context_weight)
