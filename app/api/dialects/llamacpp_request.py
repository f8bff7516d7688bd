"""llama.cpp's native request body (``/completion``, ``/infill``) read into a completions
request, and the one function that gives the completions service its extension fields.

Its fields are declared in app/api/dialects/contract_llamacpp.py. Mapped: ``prompt`` (a
string, token ids, ids mixed with strings, or several of those),
``n_predict`` (−1 or missing: :data:`DEFAULT_N_PREDICT`, since this model has no end token),
``temperature`` (negative: greedy, as in llama.cpp), ``top_k``, ``top_p``, ``min_p``,
``seed`` (−1: random), ``stop``, ``presence_penalty``, ``frequency_penalty``, the ``dry_*``
fields (the same names as ours), ``logit_bias`` (llama.cpp's ``[[id, bias]]`` pairs, ``false``
forbidding a token, or OpenAI's object), ``n_probs`` (up to 20), ``n_cmpl`` (several
completions), ``return_tokens``, ``stream``. llama.cpp's defaults apply to what is missing
(temperature 0.8, top_k 40, top_p 0.95, min_p 0.05). Accepted and ignored, because they
tune llama.cpp's slots, KV cache or samplers this engine does not have: ``cache_prompt``,
``id_slot``, ``n_keep``, ``n_indent``, ``n_cache_reuse``, ``t_max_prompt_ms``,
``t_max_predict_ms`` (generation is bounded by ``n_predict``), ``samplers``, ``typical_p``,
``repeat_penalty``, ``repeat_last_n``, ``mirostat*``, ``ignore_eos``, ``min_keep``,
``post_sampling_probs``, ``timings_per_token``, ``response_fields``, ``lora`` (must be empty).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, cast

from app.api.dialects.contract_llamacpp import LlamaPrompt, LlamaSampling, OnePrompt
from app.api.openai import completions
from app.api.openai.completions import CompletionRequest
from app.engine.types import EngineProtocol
from app.errors import InvalidRequest

DEFAULT_N_PREDICT = 1024
LLAMACPP_DEFAULTS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
_PASSED = {"top_k", "top_p", "min_p", "presence_penalty", "frequency_penalty", "stop",
           "dry_multiplier", "dry_base", "dry_allowed_length", "dry_sequence_breakers"}


@dataclass
class CompletionExtensions:
    """Contract 1's completion extension fields (``filename``, ``language``, ``scope``),
    read by the completions service once the engine supports them."""

    scope: str | None = None
    filename: str | None = None
    language: str | None = None

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def parse_completion(engine: EngineProtocol, body: dict[str, Any],
                     extensions: CompletionExtensions | None = None) -> CompletionRequest:
    """The one door from the dialects into the completions service's request parser: the
    extension fields travel in the same body, so they reach the engine exactly as they do
    from ``/v1/completions``."""
    return completions.parse_request({**body, **(extensions or CompletionExtensions()).fields()},
                                     engine)


@dataclass
class NativeRequest:
    """A llama.cpp request: the completions request plus what only this dialect reports."""

    request: CompletionRequest
    n_probs: int
    return_tokens: bool
    stream: bool
    many: bool          # several prompts or completions: the answer is an array


def _one_prompt(value: OnePrompt, engine: EngineProtocol) -> str | list[int]:
    """A string, token ids, or ids mixed with strings (encoded and joined)."""
    if isinstance(value, str) or all(isinstance(v, int) for v in value):
        return cast("str | list[int]", value)
    ids: list[int] = []
    for item in value:
        ids.extend([item] if isinstance(item, int) else map(int, engine.tokenizer.encode(item)))
    return ids


def read_prompts(prompt: LlamaPrompt, engine: EngineProtocol) -> list[str | list[int]]:
    """One prompt, or several: an array of strings, or of prompts that are arrays."""
    several = isinstance(prompt, list) and (
        (all(isinstance(v, str) for v in prompt) and len(prompt) > 1)
        or any(isinstance(v, list) for v in prompt))
    if not several:
        return [_one_prompt(cast("OnePrompt", prompt), engine)]
    return [_one_prompt(v, engine) for v in cast("list[OnePrompt]", prompt)]


def _logit_bias(asked: LlamaSampling) -> dict[str, float] | None:
    value = asked.logit_bias
    if value is None or isinstance(value, dict):
        return value
    return {str(token): -100.0 if bias is False else bias for token, bias in value}


def sampling_body(asked: LlamaSampling) -> dict[str, Any]:
    """The OpenAI completions fields of a native body (the service checks their ranges)."""
    body: dict[str, Any] = asked.model_dump(include=_PASSED, exclude_none=True)
    for name, default in LLAMACPP_DEFAULTS.items():
        body.setdefault(name, default)
    temperature = LLAMACPP_DEFAULTS["temperature"] if asked.temperature is None else (
        asked.temperature)
    body["temperature"] = max(temperature, 0.0)
    if asked.seed is not None and asked.seed >= 0:
        body["seed"] = asked.seed
    n_predict = asked.n_predict
    body["max_tokens"] = DEFAULT_N_PREDICT if n_predict is None or n_predict < 0 else n_predict
    if (bias := _logit_bias(asked)) is not None:
        body["logit_bias"] = bias
    if asked.lora:
        raise InvalidRequest("'lora' is not supported: this model has no adapters",
                             param="lora")
    return body


def native_request(asked: LlamaSampling, engine: EngineProtocol,
                   prompt: str | list[int] | list[str | list[int]],
                   suffix: str | None = None, *, several_prompts: bool = False,
                   extensions: CompletionExtensions | None = None) -> NativeRequest:
    n_cmpl = asked.n_cmpl
    if asked.stream and (n_cmpl > 1 or several_prompts):
        raise InvalidRequest("streaming answers one prompt with one completion: send several "
                             "prompts or 'n_cmpl' without 'stream'", param="stream")
    body = {"model": engine.info.id, "prompt": prompt, "suffix": suffix, "n": n_cmpl,
            **sampling_body(asked)}
    request = parse_completion(engine, body, extensions)
    if asked.n_probs:
        request = dataclasses.replace(
            request, params=dataclasses.replace(request.params, logprobs=asked.n_probs))
    return NativeRequest(request, asked.n_probs, asked.return_tokens, asked.stream,
                         several_prompts or n_cmpl > 1)
