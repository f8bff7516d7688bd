"""llama.cpp's native request body (``/completion``, ``/infill``) read into a completions
request, and the one function that gives the completions service its extension fields.

Mapped: ``prompt`` (a string, token ids, ids mixed with strings, or several of those),
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
from typing import Any

from app.api.http.body import Fields, json_type
from app.api.openai import completions
from app.api.openai.completions import CompletionRequest
from app.engine.types import EngineProtocol
from app.errors import InvalidRequest

DEFAULT_N_PREDICT = 1024
MAX_N_PROBS = 20
MAX_N_CMPL = 8
LLAMACPP_DEFAULTS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
_PASSED = ("top_k", "top_p", "min_p", "presence_penalty", "frequency_penalty", "stop",
           "dry_multiplier", "dry_base", "dry_allowed_length", "dry_sequence_breakers")


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


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_prompt(value: Any, where: str, engine: EngineProtocol) -> str | list[int]:
    """A string, token ids, or ids mixed with strings (encoded and joined)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(_is_token(v) or isinstance(v, str)
                                                 for v in value):
        if all(_is_token(v) for v in value):
            return value
        ids: list[int] = []
        for item in value:
            ids.extend([item] if _is_token(item) else map(int, engine.tokenizer.encode(item)))
        return ids
    raise InvalidRequest(f"'{where}' must be a string, token ids or ids mixed with strings, "
                         f"not {json_type(value)}", param=where)


def read_prompts(fields: Fields, engine: EngineProtocol) -> list[str | list[int]]:
    value = fields.raw("prompt")
    if value is None:
        raise InvalidRequest("\"prompt\" must be provided", param="prompt")
    several = isinstance(value, list) and bool(value) and (
        (all(isinstance(v, str) for v in value) and len(value) > 1)
        or any(isinstance(v, list | dict) for v in value))
    if not several:
        return [_one_prompt(value, "prompt", engine)]
    return [_one_prompt(v, f"prompt[{i}]", engine) for i, v in enumerate(value)]


def _logit_bias(fields: Fields) -> dict[str, float] | None:
    value = fields.raw("logit_bias")
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, list):
        raise fields.fail("logit_bias", "must be an array of [token, bias] pairs or an object")
    bias: dict[str, float] = {}
    for pair in value:
        if (not isinstance(pair, list) or len(pair) != 2 or not _is_token(pair[0])
                or not (pair[1] is False or isinstance(pair[1], int | float))):
            raise fields.fail("logit_bias", "must hold [token id, bias or false] pairs")
        bias[str(pair[0])] = -100.0 if pair[1] is False else pair[1]
    return bias


def sampling_body(fields: Fields) -> dict[str, Any]:
    """The OpenAI completions fields of a native body (the service validates them)."""
    body: dict[str, Any] = {name: fields.raw(name) for name in _PASSED if fields.present(name)}
    for name, default in LLAMACPP_DEFAULTS.items():
        body.setdefault(name, default)
    temperature = fields.number("temperature", LLAMACPP_DEFAULTS["temperature"])
    assert temperature is not None
    body["temperature"] = max(temperature, 0.0)
    seed = fields.integer("seed")
    if seed is not None and seed >= 0:
        body["seed"] = seed
    n_predict = fields.integer("n_predict")
    body["max_tokens"] = DEFAULT_N_PREDICT if n_predict is None or n_predict < 0 else n_predict
    if (bias := _logit_bias(fields)) is not None:
        body["logit_bias"] = bias
    for name in ("t_max_predict_ms", "t_max_prompt_ms"):
        fields.number(name, minimum=0)
    if fields.array("lora"):
        raise fields.fail("lora", "is not supported: this model has no adapters")
    return body


def native_request(fields: Fields, engine: EngineProtocol,
                   prompt: str | list[int] | list[str | list[int]],
                   suffix: str | None = None, *, several_prompts: bool = False,
                   extensions: CompletionExtensions | None = None) -> NativeRequest:
    n_probs = fields.integer("n_probs", 0, minimum=0, maximum=MAX_N_PROBS) or 0
    n_cmpl = fields.integer("n_cmpl", 1, minimum=1, maximum=MAX_N_CMPL) or 1
    stream = fields.boolean("stream")
    if stream and (n_cmpl > 1 or several_prompts):
        raise InvalidRequest("streaming answers one prompt with one completion: send several "
                             "prompts or 'n_cmpl' without 'stream'", param="stream")
    body = {"model": engine.info.id, "prompt": prompt, "suffix": suffix, "n": n_cmpl,
            **sampling_body(fields)}
    request = parse_completion(engine, body, extensions)
    if n_probs:
        request = dataclasses.replace(
            request, params=dataclasses.replace(request.params, logprobs=n_probs))
    return NativeRequest(request, n_probs, fields.boolean("return_tokens"), stream,
                         several_prompts or n_cmpl > 1)
