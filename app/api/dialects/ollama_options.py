"""Ollama's ``options`` (Modelfile parameters) read into the OpenAI fields our services take.

Mapped: ``num_predict`` → ``max_tokens`` (−1 and −2, "until the end" and "fill the
context", and a missing value become :data:`DEFAULT_NUM_PREDICT`: a statistical model has no
end-of-answer token, so "until the end" would mean the whole window), ``temperature``,
``top_p``, ``top_k``, ``min_p``, ``seed``, ``stop``, ``presence_penalty``,
``frequency_penalty``. Ignored, because they describe llama.cpp's runtime or samplers this
model does not have (the engine's own repetition penalty is always on): ``num_ctx``,
``num_batch``, ``num_gpu``, ``main_gpu``, ``num_thread``, ``num_keep``, ``numa``, ``low_vram``,
``f16_kv``, ``vocab_only``, ``use_mmap``, ``use_mlock``, ``logits_all``, ``embedding_only``,
``repeat_penalty``, ``repeat_last_n``, ``penalize_newline``, ``typical_p``, ``tfs_z``,
``mirostat``, ``mirostat_tau``, ``mirostat_eta`` (Ollama itself ignores unknown options).
"""

from __future__ import annotations

from typing import Any

from app.api.dialects.contract_ollama import OllamaOptions

DEFAULT_NUM_PREDICT = 1024


def sampling_fields(options: OllamaOptions | None) -> dict[str, Any]:
    """The OpenAI request fields that ``options`` asks for (their ranges checked by the
    services, under these names)."""
    if options is None:
        return {"max_tokens": DEFAULT_NUM_PREDICT}
    fields = options.model_dump(exclude={"num_predict"}, exclude_none=True)
    num_predict = options.num_predict
    fields["max_tokens"] = (DEFAULT_NUM_PREDICT if num_predict is None or num_predict < 0
                            else num_predict)
    return fields
