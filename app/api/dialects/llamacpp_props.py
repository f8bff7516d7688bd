"""llama.cpp's ``GET /props`` (the server's defaults and model) and ``GET /slots``, which
this server refuses with llama.cpp's own "not supported" error: it keeps no per-slot state
(every request runs on its own pooled session), so there is nothing true to list."""

from __future__ import annotations

import falcon

from app import __version__
from app.api.dialects.llamacpp_request import DEFAULT_N_PREDICT, LLAMACPP_DEFAULTS
from app.api.runtime.engine_slot import ServedModelResource
from app.chat_template import __doc__ as CHAT_TEMPLATE_DOC
from app.engine.types import SamplingParams
from app.errors import HypercubeError


class NotSupported(HypercubeError):
    status = 501
    type = "not_supported_error"
    code = "not_supported"


class LlamaPropsResource(ServedModelResource):
    """``GET /props``: the server's settings as llama.cpp reports them."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        info = self.slot.get().info
        defaults = SamplingParams()
        resp.media = {
            "default_generation_settings": {
                "id": 0, "id_task": -1, "n_ctx": info.context_length, "speculative": False,
                "is_processing": False, "model": info.id,
                "params": {"n_predict": DEFAULT_N_PREDICT, "seed": -1, **LLAMACPP_DEFAULTS,
                           "presence_penalty": 0.0, "frequency_penalty": 0.0,
                           "dry_multiplier": defaults.dry_multiplier,
                           "dry_base": defaults.dry_base,
                           "dry_allowed_length": defaults.dry_allowed_length,
                           "dry_sequence_breakers": defaults.dry_sequence_breakers,
                           "stop": [], "n_probs": 0, "stream": False}},
            "model_path": str(self.db_path),
            "chat_template": CHAT_TEMPLATE_DOC,
            "modalities": {"vision": False, "audio": False},
            "build_info": f"hypercube-{__version__}",
            "is_sleeping": False,
        }


class LlamaSlotsResource:
    accepts = ()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise NotSupported("This server does not support slots endpoint: Hypercube keeps no "
                           "per-slot state (each request runs on its own session)")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.on_get(req, resp)
