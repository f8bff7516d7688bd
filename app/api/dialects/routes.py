"""The routes of the other dialects local-model clients speak, each a thin adapter over the
OpenAI services: Ollama (``/api/…``), llama.cpp's server (``/completion``, ``/infill``,
``/props``, ``/slots``; ``/tokenize`` and ``/detokenize`` answer both shapes), OpenAI's
Responses API (``/v1/responses``) and evaluation harnesses (``/tokenizer_info``)."""

from __future__ import annotations

from pathlib import Path

from app.api.dialects.llamacpp import LlamaCompletionResource, LlamaInfillResource
from app.api.dialects.llamacpp_props import LlamaPropsResource, LlamaSlotsResource
from app.api.dialects.ollama_embed import OllamaEmbeddingsResource, OllamaEmbedResource
from app.api.dialects.ollama_generate import OllamaChatResource, OllamaGenerateResource
from app.api.dialects.ollama_models import (
    OllamaPsResource,
    OllamaShowResource,
    OllamaTagsResource,
    OllamaVersionResource,
)
from app.api.dialects.responses import ResponsesResource
from app.api.jobs.dispatch import Services
from app.api.native.tokenize import TokenizerInfoResource
from app.api.runtime.engine_slot import EngineSlot

DIALECTS = {
    "ollama": "Ollama API under /api (tags, show, ps, version, generate, chat, embed, "
              "embeddings)",
    "llama.cpp": "llama.cpp server: /completion, /infill, /props, /tokenize and /detokenize "
                 "with content (/slots refused)",
    "responses": "OpenAI Responses API: /v1/responses (stateless)",
    "harnesses": "lm-evaluation-harness remote tokenizer: /tokenizer_info",
}


def dialect_routes(slot: EngineSlot, services: Services,
                   db_path: Path) -> list[tuple[str, object]]:
    return [
        ("/api/tags", OllamaTagsResource(slot, db_path)),
        ("/api/ps", OllamaPsResource(slot, db_path)),
        ("/api/version", OllamaVersionResource()),
        ("/api/show", OllamaShowResource(slot)),
        ("/api/generate", OllamaGenerateResource(slot, services.completions, services.chat)),
        ("/api/chat", OllamaChatResource(slot, services.chat)),
        ("/api/embed", OllamaEmbedResource(slot, services.embeddings)),
        ("/api/embeddings", OllamaEmbeddingsResource(slot, services.embeddings)),
        ("/completion", LlamaCompletionResource(slot, services.completions)),
        ("/infill", LlamaInfillResource(slot, services.completions)),
        ("/props", LlamaPropsResource(slot, db_path)),
        ("/slots", LlamaSlotsResource()),
        ("/v1/responses", ResponsesResource(slot, services.chat)),
        ("/tokenizer_info", TokenizerInfoResource(slot)),
    ]
