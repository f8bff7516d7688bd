"""What other parts of Hypercube plug into an ingest.

An :class:`Analyzer` adds facts about each document inside the same transaction that stores
the document (so a crash never leaves half of them) and removes them when the document goes.
A :class:`RunListener` hears about each finished run, after its documents are committed (the
model uses this to build the run's segment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import apsw
import numpy as np

if TYPE_CHECKING:
    from app.ingest.pipeline import RunSummary
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


class Analyzer(Protocol):
    name: str

    def analyze(self, conn: apsw.Connection, doc: IngestedDocument,
                tokenizer: Tokenizer) -> None:
        """Store this document's facts (called inside the write transaction)."""

    def forget(self, conn: apsw.Connection, doc_ids: Sequence[int]) -> None:
        """Remove what :meth:`analyze` stored for these documents (before they are deleted)."""


class RunListener(Protocol):
    def after_run(self, store: Store, summary: RunSummary) -> None:
        """React to a finished run whose documents are committed."""


def default_analyzers() -> list[Analyzer]:
    """The analyzers every ingest runs."""
    from app.code import CodeAnalyzer  # imported here: app.code imports this module

    return [CodeAnalyzer()]


def default_listeners() -> list[RunListener]:
    """The listeners every ingest notifies."""
    from app.model.listener import ModelUpdater  # imported here: keeps ingest importable alone

    return [ModelUpdater()]
