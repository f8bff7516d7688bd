"""Log-probabilities in OpenAI's two shapes: the legacy completions object and chat's list."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from app.engine.types import TokenLogprob
from app.tokenizer import Tokenizer

# OpenAI's stand-in for "practically impossible"; JSON has no -Infinity.
_FLOOR = -9999.0


def _finite(value: float) -> float:
    return value if math.isfinite(value) else _FLOOR


def completion_logprobs(tokenizer: Tokenizer, tokens: Sequence[TokenLogprob],
                        offset: int) -> dict[str, Any]:
    """``{tokens, token_logprobs, top_logprobs, text_offset}``.

    ``text_offset`` counts characters of the returned text (OpenAI starts it at the prompt's
    length when the prompt is not echoed); the first token of an echoed prompt has no
    log-probability and no alternatives, hence ``null`` there, as evaluation harnesses expect.
    """
    pieces = tokenizer.token_strings(t.token_id for t in tokens)
    offsets = []
    position = offset
    for piece in pieces:
        offsets.append(position)
        position += len(piece)
    top_logprobs: list[dict[str, float] | None] = []
    for token in tokens:
        if token.logprob is None:
            top_logprobs.append(None)
            continue
        top: dict[str, float] = {}
        for _, text, logprob in token.top:
            top[text] = max(top.get(text, _FLOOR), _finite(logprob))
        top_logprobs.append(top)
    return {
        "tokens": [t.text for t in tokens],
        "token_logprobs": [None if t.logprob is None else _finite(t.logprob) for t in tokens],
        "top_logprobs": top_logprobs,
        "text_offset": offsets,
    }


def merge_completion_logprobs(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {key: first[key] + second[key] for key in first}


def chat_logprobs(tokenizer: Tokenizer, tokens: Sequence[TokenLogprob]) -> dict[str, Any]:
    """``{content: [{token, logprob, bytes, top_logprobs}], refusal: null}``."""
    return {
        "content": [
            {
                "token": t.text,
                "logprob": _finite(t.logprob if t.logprob is not None else _FLOOR),
                "bytes": list(t.bytes),
                "top_logprobs": [
                    {"token": text, "logprob": _finite(logprob),
                     "bytes": list(tokenizer.token_bytes(token_id))}
                    for token_id, text, logprob in t.top
                ],
            }
            for t in tokens
        ],
        "refusal": None,
    }
