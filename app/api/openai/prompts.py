"""Turning the ``prompt`` and ``input`` fields into token ids, as OpenAI accepts them:
a string, an array of strings, an array of token ids, or an array of token-id arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.api.http.body import Fields, json_type
from app.errors import ContextLengthExceeded, InvalidRequest, InvalidText
from app.tokenizer import Tokenizer


@dataclass
class Prompt:
    ids: np.ndarray
    text: str


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_prompts(fields: Fields, name: str, tokenizer: Tokenizer, *,
                 allow_empty_text: bool = True, max_length: int | None = None) -> list[Prompt]:
    """The prompts; a token array longer than ``max_length`` (the context window) is refused
    before its ids are checked or copied."""
    value: Any = fields.raw(name)
    if value is None:
        raise InvalidRequest(f"you must provide '{name}'", param=name)
    single = isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(_is_token(v) for v in value))
    _check_lengths(value, name, max_length)
    if single:
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        items = value
    elif isinstance(value, list):
        raise fields.fail(name, "must not be an empty array")
    else:
        raise fields.fail(name, "must be a string, an array of strings, an array of token "
                                f"ids or an array of token-id arrays, not {json_type(value)}")
    prompts = []
    for i, item in enumerate(items):
        where = name if single else f"{name}[{i}]"
        prompts.append(_one(item, where, tokenizer, allow_empty_text))
    return prompts


def _check_lengths(value: Any, name: str, max_length: int | None) -> None:
    if max_length is None or not isinstance(value, list) or not value:
        return
    single = not isinstance(value[0], list)
    for i, item in enumerate([value] if single else value):
        if isinstance(item, list) and len(item) > max_length:
            where = name if single else f"{name}[{i}]"
            raise ContextLengthExceeded(
                f"This model's maximum context length is {max_length} tokens. However, "
                f"'{where}' holds {len(item)} token ids. Please reduce its length.", param=where)


def _one(item: object, where: str, tokenizer: Tokenizer, allow_empty_text: bool) -> Prompt:
    if isinstance(item, str):
        if not item and not allow_empty_text:
            raise InvalidRequest(f"'{where}' must not be empty", param=where)
        try:
            return Prompt(tokenizer.encode(item), item)
        except InvalidText as exc:
            raise InvalidText(f"'{where}': {exc.message}", param=where) from exc
    if isinstance(item, list) and item and all(_is_token(v) for v in item):
        vocab = tokenizer.vocab_size
        bad = next((v for v in item if not 0 <= v < vocab), None)
        if bad is not None:
            raise InvalidRequest(f"'{where}' holds token id {bad}, outside the vocabulary "
                                 f"(0–{vocab - 1})", param=where)
        ids = np.asarray(item, dtype=tokenizer.dtype)
        return Prompt(ids, tokenizer.decode(ids))
    raise InvalidRequest(f"'{where}' must be a string or a non-empty array of token ids, "
                         f"not {json_type(item)}", param=where)
