"""Loading the model from the hypercube, bringing it up to date first if it is stale."""

from __future__ import annotations

import dataclasses

from app.errors import NotReady, StoreError
from app.model.maintain import plan_update, segment_families, update_model, vocab_size
from app.model.params import ModelParams
from app.model.runtime import Model
from app.model.storage import load_params, load_segments
from app.store import Store
from jit import Kernels


def load_model(store: Store, kernel_set: Kernels) -> Model:
    """The model of exactly the documents now in ``store``.

    Raises:
        NotReady: nothing has been ingested yet.
    """
    with store.snapshot() as conn:
        plan = plan_update(conn)
    if plan.vocab_size == 0 or plan.documents == 0:
        raise NotReady("the hypercube has no documents yet: run `hypercube ingest PATH…` first")
    if plan.needed or _params_missing(store):
        if store.readonly:
            raise StoreError("the model in this read-only hypercube is out of date with its "
                             "documents: open it writable once to update it")
        update_model(store, kernel_set)
    with store.snapshot() as conn:
        size = vocab_size(conn)
        segments = load_segments(conn, size)
        families = segment_families(conn, [segment.doc_ids for segment in segments])
        stored = load_params(conn)
    segments = [dataclasses.replace(segment, family=family)
                for segment, family in zip(segments, families, strict=True)]
    params = stored.params if stored is not None else ModelParams.default()
    return Model(segments, params, size, kernel_set)


def _params_missing(store: Store) -> bool:
    with store.snapshot() as conn:
        return load_params(conn) is None
