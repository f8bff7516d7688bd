"""Building the engine from a hypercube file."""

from __future__ import annotations

from app.engine.engine import Engine, model_info
from app.engine.names import KnownNames
from app.errors import NotReady
from app.model.loading import load_model
from app.model.projects import ProjectFocus
from app.store import Store
from app.store.rows import integers, number
from app.tokenizer import Tokenizer, load_vocabulary
from jit import Kernels


def load_engine(store: Store, kernels: Kernels) -> Engine:
    """The engine over exactly the documents now in ``store``, running on ``kernels``
    (:attr:`app.compose.Root.kernels`); it only reads (app/model/loading.py).

    Raises:
        NotReady: nothing has been ingested yet, or the stored model is stale.
    """
    vocab = load_vocabulary(store.conn)
    if vocab is None:
        raise NotReady("the hypercube has no vocabulary yet: run `hypercube ingest PATH…` first")
    model = load_model(store, kernels)
    with store.snapshot() as conn:
        documents, corpus_bytes = integers(
            conn, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM documents")
        created = number(
            conn, "SELECT COALESCE(MAX(created), 0) FROM model_segments")
    return Engine(model, Tokenizer(vocab), model_info(model, documents, corpus_bytes, created),
                  KnownNames(str(store.path)), ProjectFocus(str(store.path), model))
