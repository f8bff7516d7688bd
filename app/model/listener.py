"""The ingest hook: after each run, the model catches up with the documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.model.maintain import UpdateReport, update_model

if TYPE_CHECKING:
    from app.ingest.pipeline import RunSummary
    from app.store import Store
    from jit import Kernels


class ModelUpdater:
    """A RunListener that indexes the run's new documents as one segment (and rebuilds
    segments whose documents were replaced or removed), with the kernels it is given."""

    def __init__(self, kernels: Kernels) -> None:
        self.kernels = kernels
        self.last: UpdateReport | None = None

    def after_run(self, store: Store, summary: RunSummary) -> None:
        self.last = update_model(store, self.kernels)
