"""llama.cpp's native request bodies (``/completion``, ``/infill``), declared once in the
style of app/api/openai/contract.py: read with :func:`app.api.openai.contract.read` (a
mistake is a 400 naming the field, in llama.cpp's error shape: app/api/dialects/errors.py)
and published in ``/openapi.json``.

The sampling fields with OpenAI's names are passed on to the completions service
(app/api/dialects/llamacpp_request.py), whose contract holds their limits; here they have
their types. llama.cpp's clients send many fields that tune its slots, caches and samplers
(``id_slot``, ``n_keep``, ``samplers``, ``mirostat``…): unknown fields are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from app.api.openai.contract_types import Body, Integer, Number, an_item, on_the_field

MAX_N_PROBS = 20
MAX_N_CMPL = 8
MAX_EXTRA_CHUNKS = 64

_AS_OPENAI = "as /v1/completions' field of the same name (its limits apply)"


def _pair(value: Any) -> Any:
    # A pair is a JSON array; a tuple declares what each of its two items is.
    return tuple(value) if isinstance(value, list) else value


BiasPair = Annotated[tuple[int, Number | Literal[False]], BeforeValidator(_pair)]
LogitBias = Annotated[list[BiasPair] | dict[str, Number], on_the_field(
    lambda _: "must be an object or an array of [token id, bias or false] pairs")]

# One prompt: a string, token ids, or ids mixed with strings (encoded and joined).
_Piece = int | str
OnePrompt = str | Annotated[list[_Piece], Field(min_length=1)]
_PromptItem = Annotated[OnePrompt, an_item(
    "must be a string, token ids or ids mixed with strings")]
LlamaPrompt = OnePrompt | Annotated[list[_PromptItem], Field(min_length=1)]


class LlamaSampling(Body):
    """What ``/completion`` and ``/infill`` share: generation and sampling."""

    n_predict: Integer | None = Field(None, description="most tokens to generate; -1 (and "
                                                        "none): 1024")
    temperature: Number | None = Field(None, description="default 0.8; negative: greedy")
    top_k: Integer | None = Field(None, description="default 40; " + _AS_OPENAI)
    top_p: Number | None = Field(None, description="default 0.95; " + _AS_OPENAI)
    min_p: Number | None = Field(None, description="default 0.05; " + _AS_OPENAI)
    presence_penalty: Number | None = Field(None, description=_AS_OPENAI)
    frequency_penalty: Number | None = Field(None, description=_AS_OPENAI)
    dry_multiplier: Number | None = Field(None, description=_AS_OPENAI)
    dry_base: Number | None = Field(None, description=_AS_OPENAI)
    dry_allowed_length: Integer | None = Field(None, description=_AS_OPENAI)
    dry_sequence_breakers: list[str] | None = Field(None, description=_AS_OPENAI)
    stop: str | list[str] | None = Field(None, description=_AS_OPENAI)
    seed: Integer | None = Field(None, description="-1: random")
    logit_bias: LogitBias | None = Field(
        None, description="[token id, bias] pairs (false forbids the token), or OpenAI's "
                          "object")
    n_probs: Integer = Field(0, ge=0, le=MAX_N_PROBS,
                             description="each token's probability and this many "
                                         "alternatives")
    n_cmpl: Integer = Field(1, ge=1, le=MAX_N_CMPL, description="completions per prompt")
    return_tokens: bool = Field(False, description="the generated token ids too")
    stream: bool = Field(False, description="server-sent events")
    cache_prompt: bool = Field(True, description="accepted; the whole prompt is always the "
                                                 "cache")
    t_max_prompt_ms: Annotated[float, Field(ge=0)] | None = Field(
        None, description="accepted; generation is bounded by n_predict")
    t_max_predict_ms: Annotated[float, Field(ge=0)] | None = Field(
        None, description="accepted; generation is bounded by n_predict")
    lora: list[Any] | None = Field(None, description="refused unless empty: this model "
                                                     "has no adapters")


class LlamaCompletionBody(LlamaSampling):
    """``POST /completion``."""

    prompt: LlamaPrompt = Field(description="a string, token ids, ids mixed with strings, "
                                            "or an array of several of those")


class ExtraChunk(Body):
    filename: str
    text: str


class LlamaInfillBody(LlamaSampling):
    """``POST /infill``: the text before the cursor is input_prefix + prompt."""

    input_prefix: str = Field("", description="the text before the cursor")
    input_suffix: str = Field("", description="the text after the cursor")
    prompt: str = Field("", description="written after input_prefix")
    filename: str | None = Field(None, description="the file being edited: its language "
                                                   "and project")
    input_extra: Annotated[list[ExtraChunk], Field(max_length=MAX_EXTRA_CHUNKS)] = Field(
        default_factory=list, description="chunks of other files, written before the "
                                          "prefix (the oldest left out when they do not fit)")
