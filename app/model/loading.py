"""Loading the model from the hypercube: a read, never a write.

The stored model is kept equal to the documents by whoever changes the documents: every
ingest run ends by updating it (app/model/listener.py), and ``hypercube db repair`` rebuilds
whatever a run that was killed half-way left stale (app/model/repair.py). Loading only
reads, so a server never writes on start and can serve a file on a read-only mount.

A stale model is refused, not served: its segments still count documents that were deleted
or replaced, and a user who removed a file (a secret, say) from the hypercube expects it
gone from every answer. The error names the command that repairs it; the server's loader
retries with backoff, so it serves on its own once an ingest run or a repair has run.
"""

from __future__ import annotations

import dataclasses

from app.errors import NotReady
from app.model.maintain import model_is_current, segment_families, vocab_size
from app.model.runtime import Model
from app.model.storage import SegmentFileMissing, load_params, load_segments
from app.store import Store
from app.store.rows import integer
from jit import Kernels

REPAIR_HINT = "run `hypercube db repair` (or ingest again) to bring it up to date"


def load_model(store: Store, kernel_set: Kernels) -> Model:
    """The model of exactly the documents now in ``store``, read in one snapshot.

    Raises:
        NotReady: nothing has been ingested yet, or the stored model is stale (it does not
            count exactly the current documents, or its parameters were never fitted).
    """
    with store.snapshot() as conn:
        size = vocab_size(conn)
        if size == 0 or not integer(conn, "SELECT EXISTS(SELECT 1 FROM documents)"):
            raise NotReady("the hypercube has no documents yet: run `hypercube ingest PATH…` "
                           "first")
        stored = load_params(conn)
        current = model_is_current(conn)
        if not current or stored is None:
            raise NotReady(f"the model in {store.path} is out of date with its documents "
                           f"({_stale_summary(not current, stored is None)}): {REPAIR_HINT}")
        lost: SegmentFileMissing | None = None
        try:
            segments = load_segments(conn, size)
        except SegmentFileMissing as missing:
            lost = missing
        else:
            families = segment_families(conn, [segment.doc_ids for segment in segments])
    if lost is not None:
        # Files are collected only after the commit that drops their segment: if the row is
        # gone now, a writer replaced the model while this read began; else the file is lost.
        with store.snapshot() as conn:
            if conn.execute("SELECT 1 FROM model_segments WHERE id = ?",
                            (lost.segment_id,)).fetchone() is None:
                raise NotReady("the model changed while it was being loaded: loading again")
        raise lost
    segments = [dataclasses.replace(segment, family=family)
                for segment, family in zip(segments, families, strict=True)]
    return Model(segments, stored.params, size, kernel_set)


def _stale_summary(segments_stale: bool, params_missing: bool) -> str:
    """What is stale, in words, for the error."""
    parts = []
    if segments_stale:
        parts.append("documents not yet indexed, or indexed ones since changed")
    if params_missing:
        parts.append("parameters never fitted")
    return " and ".join(parts)
