"""Turning the ``prompt`` and ``input`` fields into token ids, as OpenAI accepts them:
a string, an array of token ids, or an array of strings and token-id arrays. Their shape is
the request contract's (:data:`app.api.openai.contract.PromptValue`, validated before they
get here); what is checked here needs the model: the context window and the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from app.errors import ContextLengthExceeded, InvalidRequest, InvalidText
from app.tokenizer import Tokenizer

PromptItem = str | list[int]


@dataclass
class Prompt:
    ids: np.ndarray
    text: str


def read_prompts(value: PromptItem | list[PromptItem], name: str, tokenizer: Tokenizer, *,
                 allow_empty_text: bool = True, max_length: int | None = None) -> list[Prompt]:
    """The prompts of a validated ``value``; a token array longer than ``max_length`` (the
    context window) is refused before its ids are checked or copied."""
    single = isinstance(value, str) or all(isinstance(v, int) for v in value)
    items = cast("list[PromptItem]", [value] if single else value)
    where = [name] if single else [f"{name}[{i}]" for i in range(len(items))]
    if max_length is not None:
        for item, place in zip(items, where, strict=True):
            if isinstance(item, list) and len(item) > max_length:
                raise ContextLengthExceeded(
                    f"This model's maximum context length is {max_length} tokens. However, "
                    f"'{place}' holds {len(item)} token ids. Please reduce its length.",
                    param=place)
    return [_one(item, place, tokenizer, allow_empty_text)
            for item, place in zip(items, where, strict=True)]


def _one(item: PromptItem, where: str, tokenizer: Tokenizer, allow_empty_text: bool) -> Prompt:
    if isinstance(item, str):
        if not item and not allow_empty_text:
            raise InvalidRequest(f"'{where}' must not be empty", param=where)
        try:
            return Prompt(tokenizer.encode(item), item)
        except InvalidText as exc:
            raise InvalidText(f"'{where}': {exc.message}", param=where) from exc
    vocab = tokenizer.vocab_size
    bad = next((v for v in item if not 0 <= v < vocab), None)
    if bad is not None:
        raise InvalidRequest(f"'{where}' holds token id {bad}, outside the vocabulary "
                             f"(0–{vocab - 1})", param=where)
    ids = np.asarray(item, dtype=tokenizer.dtype)
    return Prompt(ids, tokenizer.decode(ids))
