"""The ingest hook: after each run, the model catches up with the documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.model.maintain import MAX_SEGMENT_TOKENS, SegmentBuild, UpdateReport, update_model

if TYPE_CHECKING:
    from app.ingest.pipeline import RunSummary
    from app.store import Store
    from jit import Kernels


class ModelUpdater:
    """A RunListener that indexes the run's new documents as segments of at most
    ``segment_tokens`` (and rebuilds segments whose documents were replaced or removed),
    with the kernels it is given, building them where the run prepared its files."""

    def __init__(self, kernels: Kernels, segment_tokens: int = MAX_SEGMENT_TOKENS) -> None:
        self.kernels = kernels
        self.segment_tokens = segment_tokens
        self.last: UpdateReport | None = None

    def after_run(self, store: Store, summary: RunSummary, build: SegmentBuild) -> None:
        self.last = update_model(store, self.kernels, segment_tokens=self.segment_tokens,
                                 build=build)
