"""Answering an API request given as a JSON body, without HTTP: what batches run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.api.openai import completions
from app.api.openai.chat import ChatCompletions
from app.api.openai.completions import Completions
from app.api.openai.embeddings import Embeddings
from app.api.openai.generation import ClientWatch
from app.engine.types import EngineProtocol
from app.errors import InvalidRequest

ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")


@dataclass
class Services:
    completions: Completions
    chat: ChatCompletions
    embeddings: Embeddings

    def execute(self, engine: EngineProtocol, endpoint: str, body: dict[str, Any],
                watch: ClientWatch) -> dict[str, Any]:
        """The response body ``endpoint`` gives for ``body``; errors raise as they would."""
        if body.get("stream"):
            raise InvalidRequest("'stream' is not supported in batches", param="stream")
        if endpoint == "/v1/completions":
            return self.completions.respond(
                engine, completions.parse_request(body, engine), watch)
        if endpoint == "/v1/chat/completions":
            return self.chat.respond(engine, self.chat.parse(body, engine), watch)
        if endpoint == "/v1/embeddings":
            return self.embeddings.respond(engine, body)
        raise InvalidRequest(f"endpoint {endpoint!r} is not supported; use one of "
                             f"{', '.join(ENDPOINTS)}", param="endpoint")
