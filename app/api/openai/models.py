"""``GET /v1/models`` and ``GET /v1/models/{id}``: what the server offers, with metadata."""

from __future__ import annotations

from typing import Any

import falcon

from app.api.http.body import Fields
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol, ModelInfo
from app.errors import ModelNotFound

OWNER = "hypercube"


def model_object(info: ModelInfo) -> dict[str, Any]:
    """OpenAI's model object plus the facts a client needs to size its requests."""
    return {
        "id": info.id,
        "object": "model",
        "created": info.created,
        "owned_by": OWNER,
        "context_length": info.context_length,
        "vocab_size": info.vocab_size,
        "corpus": {"bytes": info.corpus_bytes, "tokens": info.corpus_tokens,
                   "documents": info.documents},
    }


def resolve_model(fields: Fields, engine: EngineProtocol, path_model: str | None = None) -> str:
    """The requested model id, which must be one this server offers."""
    model = path_model if path_model is not None else fields.string("model", required=True)
    assert model is not None
    if model != engine.info.id:
        raise ModelNotFound(
            f"The model '{model}' does not exist. This server offers '{engine.info.id}' "
            "(see GET /v1/models).",
            param="model",
        )
    return model


class ModelsResource:
    accepts = ()

    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"object": "list", "data": [model_object(self.slot.get().info)]}


class ModelResource:
    accepts = ()

    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_get(self, req: falcon.Request, resp: falcon.Response, model: str) -> None:
        engine = self.slot.get()
        resolve_model(Fields({}), engine, model)
        resp.media = model_object(engine.info)
