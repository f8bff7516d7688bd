"""Ollama's ``POST /api/embed`` (``input``: a text or texts → ``embeddings``) and the older
``POST /api/embeddings`` (``prompt`` → ``embedding``), over the embeddings service.

Inputs longer than the context window are refused (400), as on ``/v1/embeddings``, rather
than silently cut: ``truncate`` is accepted and does not change that.
"""

from __future__ import annotations

import time
from typing import Any

import falcon

from app.api.dialects.contract_ollama import OllamaEmbedBody, OllamaEmbeddingsBody
from app.api.dialects.ollama_models import resolve_ollama_model
from app.api.dialects.streams import nanoseconds
from app.api.http.body import read_json
from app.api.openai.contract import read
from app.api.openai.embeddings import Embeddings
from app.api.runtime.engine_slot import EngineSlot


class OllamaEmbedResource:
    """``POST /api/embed``."""

    def __init__(self, slot: EngineSlot, service: Embeddings) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        asked = read(OllamaEmbedBody, read_json(req))
        engine = self.slot.get()
        name = resolve_ollama_model(asked, engine)
        body: dict[str, Any] = {"model": engine.info.id, "input": asked.input}
        if asked.dimensions is not None:
            body["dimensions"] = asked.dimensions
        result = self.service.respond(engine, body)
        resp.media = {"model": name, "embeddings": [d["embedding"] for d in result["data"]],
                      "total_duration": nanoseconds(time.perf_counter() - started),
                      "load_duration": 0,
                      "prompt_eval_count": result["usage"]["prompt_tokens"]}


class OllamaEmbeddingsResource:
    """``POST /api/embeddings``."""

    def __init__(self, slot: EngineSlot, service: Embeddings) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = read(OllamaEmbeddingsBody, read_json(req))
        engine = self.slot.get()
        resolve_ollama_model(asked, engine)
        prompt = asked.prompt
        if not prompt:
            resp.media = {"embedding": []}  # Ollama's answer to an empty prompt
            return
        result = self.service.respond(engine, {"model": engine.info.id, "input": prompt})
        resp.media = {"embedding": result["data"][0]["embedding"]}
