"""The sampling fields completions and chat share, read into the engine's SamplingParams."""

from __future__ import annotations

from app.api.body import Fields
from app.engine.sampling import (
    DRY_ALLOWED_LENGTH_RANGE,
    DRY_BASE_RANGE,
    DRY_MAX_BREAKER_CHARS,
    DRY_MAX_BREAKERS,
    DRY_MULTIPLIER_MAX,
)
from app.engine.types import MAX_STOP_SEQUENCES, SamplingParams

MAX_N = 128
_DEFAULTS = SamplingParams()


def read_stop(fields: Fields) -> list[str]:
    value = fields.raw("stop")
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise fields.fail("stop", "must be a string or an array of strings")
    if len(value) > MAX_STOP_SEQUENCES:
        raise fields.fail("stop", f"may hold at most {MAX_STOP_SEQUENCES} sequences")
    return [s for s in value if s]


def read_logit_bias(fields: Fields, vocab_size: int) -> dict[int, float]:
    bias = fields.object("logit_bias")
    if not bias:
        return {}
    result: dict[int, float] = {}
    for key, value in bias.items():
        try:
            token = int(key)
        except ValueError:
            raise fields.fail("logit_bias", f"keys must be token ids, not {key!r}") from None
        if not 0 <= token < vocab_size:
            raise fields.fail("logit_bias", f"token id {token} is outside the vocabulary "
                                            f"(0–{vocab_size - 1})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fields.fail("logit_bias", f"the bias for token {token} must be a number")
        if not -100 <= value <= 100:
            raise fields.fail("logit_bias", f"the bias for token {token} must be between "
                                            "-100 and 100")
        result[token] = float(value)
    return result


def read_sequence_breakers(fields: Fields) -> list[str]:
    value = fields.raw("dry_sequence_breakers")
    if value is None:
        return list(_DEFAULTS.dry_sequence_breakers)
    if not isinstance(value, list) or len(value) > DRY_MAX_BREAKERS or not all(
            isinstance(s, str) and 0 < len(s) <= DRY_MAX_BREAKER_CHARS for s in value):
        raise fields.fail("dry_sequence_breakers",
                          f"must be an array of at most {DRY_MAX_BREAKERS} non-empty strings "
                          f"of at most {DRY_MAX_BREAKER_CHARS} characters")
    return list(value)


def read_sampling(fields: Fields, *, vocab_size: int, max_tokens: int | None,
                  logprobs: int | None) -> SamplingParams:
    """Every sampling control of the engine, validated with OpenAI's ranges.

    Stop sequences are matched by the API (see :func:`app.api.generation.generate`), so they
    are read with :func:`read_stop` and not passed to the engine. The ``dry_*`` fields are
    our extension (the engine's repetition penalty, on unless ``dry_multiplier`` is 0).
    """
    seed = fields.integer("seed")
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=fields.number("temperature", 1.0, minimum=0.0, maximum=2.0),
        top_p=fields.number("top_p", 1.0, minimum=0.0, maximum=1.0),
        top_k=fields.integer("top_k", 0, minimum=0),
        min_p=fields.number("min_p", 0.0, minimum=0.0, maximum=1.0),
        presence_penalty=fields.number("presence_penalty", 0.0, minimum=-2.0, maximum=2.0),
        frequency_penalty=fields.number("frequency_penalty", 0.0, minimum=-2.0, maximum=2.0),
        logit_bias=read_logit_bias(fields, vocab_size),
        stop=[],
        seed=seed,
        logprobs=logprobs,
        dry_multiplier=fields.number("dry_multiplier", _DEFAULTS.dry_multiplier, minimum=0.0,
                                     maximum=DRY_MULTIPLIER_MAX),
        dry_base=fields.number("dry_base", _DEFAULTS.dry_base, minimum=DRY_BASE_RANGE[0],
                               maximum=DRY_BASE_RANGE[1]),
        dry_allowed_length=fields.integer(
            "dry_allowed_length", _DEFAULTS.dry_allowed_length,
            minimum=DRY_ALLOWED_LENGTH_RANGE[0], maximum=DRY_ALLOWED_LENGTH_RANGE[1]),
        dry_sequence_breakers=read_sequence_breakers(fields),
    )


def read_n(fields: Fields) -> int:
    n = fields.integer("n", 1, minimum=1, maximum=MAX_N)
    assert n is not None
    return n


def check_stream_options(fields: Fields, stream: bool) -> bool:
    """Whether the stream ends with a usage chunk."""
    options = fields.nested("stream_options")
    if options is None:
        return False
    # OpenAI rejects stream_options without stream; some clients send it anyway, harmlessly.
    return stream and options.boolean("include_usage")
