"""What other parts of Hypercube plug into an ingest.

An :class:`Analyzer` adds facts about each document inside the same transaction that stores
the document (so a crash never leaves half of them) and removes them when the document goes.
Its expensive, pure part (parsing) is a separate :data:`Preparer`, which an ingest with
``--workers N`` runs in worker processes, so only the storing is left to the one writer.
A :class:`RunListener` hears about each finished run, after its documents are committed (the
model uses this to build the run's segment).

This module declares the plugin shapes only and imports no implementation, so the code
intelligence and the model can depend on it without depending on the pipeline. Which analyzers
and listeners an ingest runs is decided by the composition root, :mod:`app.compose`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import apsw
import numpy as np

if TYPE_CHECKING:
    from app.ingest.pipeline import RunSummary
    from app.model.maintain import SegmentBuild
    from app.store import Store
    from app.tokenizer import Tokenizer


@dataclass(frozen=True)
class IngestedDocument:
    doc_id: int
    run_id: int
    path: str
    text: str
    language: str
    tokens: np.ndarray
    # Each analyzer's preparer result for this document, by analyzer name.
    prepared: Mapping[str, object] = field(default_factory=dict)


Preparer = Callable[[str, str, str], object]
"""(path, text, language) → an analyzer's facts about one document, to be stored by its
:meth:`Analyzer.analyze`. Pure (no database, no state kept between calls) and a module-level
function, so it pickles by name into a worker process; its result must pickle too."""


class Analyzer(Protocol):
    name: str

    @property
    def preparer(self) -> Preparer | None:
        """The pure part of :meth:`analyze`, run before it (maybe in another process)."""

    def analyze(self, conn: apsw.Connection, doc: IngestedDocument,
                tokenizer: Tokenizer) -> None:
        """Store this document's facts (called inside the write transaction), from
        ``doc.prepared[self.name]`` when its preparer ran."""

    def forget(self, conn: apsw.Connection, doc_ids: Sequence[int]) -> None:
        """Remove what :meth:`analyze` stored for these documents (before they are deleted)."""


class RunListener(Protocol):
    def after_run(self, store: Store, summary: RunSummary, build: SegmentBuild) -> None:
        """React to a finished run whose documents are committed; ``build`` makes a model
        segment where the run prepared its files (this process, or a cluster's worker)."""


@dataclass(frozen=True)
class IngestPlugins:
    """What each ingest run plugs in, as factories: analyzers keep per-run caches, so every
    run gets fresh ones. The composition root makes this (:attr:`app.compose.Root.plugins`);
    the HTTP API's ingest runs are handed it."""

    analyzers: Callable[[], list[Analyzer]]
    listeners: Callable[[], list[RunListener]]
