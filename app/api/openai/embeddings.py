"""``POST /v1/embeddings``: vectors for texts or token arrays (see
:mod:`app.api.openai.vectors`)."""

from __future__ import annotations

import base64
from typing import Any

import falcon

from app.api.http.body import Fields, read_json
from app.api.http.metrics import ApiMetrics
from app.api.openai.contract import read
from app.api.openai.contract_aux import EmbeddingBody
from app.api.openai.models import resolve_model
from app.api.openai.prompts import read_prompts
from app.api.openai.vectors import EmbedderCache
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol
from app.errors import ContextLengthExceeded


class Embeddings:
    def __init__(self, cache: EmbedderCache, metrics: ApiMetrics) -> None:
        self.cache = cache
        self.metrics = metrics

    def respond(self, engine: EngineProtocol, body: dict[str, Any]) -> dict[str, Any]:
        asked = read(EmbeddingBody, body)
        model = resolve_model(Fields(body), engine)
        inputs = read_prompts(asked.input, "input", engine.tokenizer, allow_empty_text=False,
                              max_length=engine.info.context_length)
        limit = engine.info.context_length
        for i, item in enumerate(inputs):
            if len(item.ids) > limit:
                raise ContextLengthExceeded(
                    f"This model's maximum context length is {limit} tokens, however input "
                    f"{i} has {len(item.ids)} tokens. Please reduce its length.", param="input")
        embedder = self.cache.get(engine.info, engine.tokenizer.vocab_size)
        data = []
        for i, item in enumerate(inputs):
            vector = embedder.embed(item.ids, asked.dimensions)
            value: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                          if asked.encoding_format == "base64" else vector.tolist())
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(len(item.ids) for item in inputs)
        self.metrics.count_tokens(tokens, 0)
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


class EmbeddingsResource:
    def __init__(self, slot: EngineSlot, service: Embeddings) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req)
        resp.media = self.service.respond(self.slot.get(), body)

