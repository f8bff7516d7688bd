"""Ollama's model endpoints: ``GET /api/tags``, ``POST /api/show``, ``GET /api/ps``,
``GET /api/version``, and model names as Ollama clients write them.

Ollama names models ``name:tag`` with ``latest`` as the default tag, so ``hypercube`` and
``hypercube:latest`` both name this server's model; anything else is Ollama's 404
``model 'x' not found``. The hypercube is always loaded, so ``/api/ps`` lists it with an
expiry far in the future and no VRAM.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import falcon

from app.api.dialects.contract_ollama import OllamaNamed, OllamaShowBody
from app.api.dialects.streams import iso_time
from app.api.http.body import read_json
from app.api.openai.contract import read
from app.api.openai.identity import fingerprint
from app.api.runtime.engine_slot import EngineSlot, ServedModelResource
from app.chat_template import SEPARATOR
from app.engine.types import EngineProtocol, ModelInfo
from app.errors import InvalidRequest, ModelNotFound

# The Ollama API version whose endpoints and fields this dialect serves; clients gate
# features on it (structured outputs need 0.5, /api/embed 0.3).
OLLAMA_VERSION = "0.12.0"
DEFAULT_TAG = "latest"
# How a prompt and a system message become the text continued (/api/generate): the
# Modelfile TEMPLATE of this model, in Ollama's template language.
TEMPLATE = "{{ if .System }}{{ .System }}" + SEPARATOR + "{{ end }}{{ .Prompt }}"
_FAR_FUTURE = 4102444800  # 2100-01-01: the model never unloads


def tagged(model_id: str) -> str:
    return f"{model_id}:{DEFAULT_TAG}"


def resolve_ollama_model(asked: OllamaNamed, engine: EngineProtocol) -> str:
    """The model's name as the client gave it, which must name this server's model.

    Older clients send ``name`` where newer ones send ``model``.
    """
    name = asked.model or asked.name
    if not name:
        raise InvalidRequest("model is required", param="model")
    base, _, tag = name.partition(":")
    if base != engine.info.id or tag not in ("", DEFAULT_TAG):
        raise ModelNotFound(f"model '{name}' not found", param="model")
    return name


def _details(info: ModelInfo) -> dict[str, Any]:
    return {"parent_model": "", "format": "hypercube", "family": "hypercube",
            "families": ["hypercube"], "parameter_size": f"{info.corpus_tokens} tokens",
            "quantization_level": "none"}


def _digest(info: ModelInfo) -> str:
    return hashlib.sha256(fingerprint(info).encode()).hexdigest()


def model_entry(info: ModelInfo, size: int) -> dict[str, Any]:
    name = tagged(info.id)
    return {"name": name, "model": name, "modified_at": iso_time(info.created),
            "size": size, "digest": _digest(info), "details": _details(info)}


class OllamaTagsResource(ServedModelResource):
    """``GET /api/tags``: the models this server offers (one)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        info = self.slot.get().info
        resp.media = {"models": [model_entry(info, _file_size(self.db_path))]}


class OllamaPsResource(ServedModelResource):
    """``GET /api/ps``: the models loaded now (the one, always)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        info = self.slot.get().info
        entry = model_entry(info, _file_size(self.db_path))
        del entry["modified_at"]
        resp.media = {"models": [{**entry, "expires_at": iso_time(_FAR_FUTURE),
                                  "size_vram": 0, "context_length": info.context_length}]}


class OllamaShowResource:
    """``POST /api/show``: details, template, parameters and capabilities of the model."""

    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        engine = self.slot.get()
        resolve_ollama_model(read(OllamaShowBody, read_json(req)), engine)
        info = engine.info
        parameters = f"num_ctx                        {info.context_length}"
        resp.media = {
            "modelfile": f"# Modelfile of {tagged(info.id)}\nFROM {info.id}\n"
                         f'TEMPLATE """{TEMPLATE}"""\nPARAMETER {parameters}\n',
            "parameters": parameters,
            "template": TEMPLATE,
            "details": _details(info),
            "model_info": {
                "general.architecture": "hypercube",
                "general.parameter_count": info.corpus_tokens,
                "hypercube.context_length": info.context_length,
                "hypercube.vocab_size": info.vocab_size,
                "hypercube.corpus_bytes": info.corpus_bytes,
                "hypercube.documents": info.documents,
            },
            "capabilities": ["completion", "insert", "embedding"],
            "modified_at": iso_time(info.created),
        }


class OllamaVersionResource:
    accepts = ()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"version": OLLAMA_VERSION}


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
