"""The request bodies of ``/v1/embeddings``, ``/tokenize`` and ``/detokenize``, declared once
in the style of app/api/openai/contract.py: read with :func:`app.api.openai.contract.read`
(a broken limit is a 400 naming the field) and published in ``/openapi.json``.

What needs the model is checked where the body is used: the model's name
(app/api/openai/models.py), token ids against the vocabulary and the context window
(app/api/openai/prompts.py), ``/tokenize``'s choice between ``prompt`` and ``messages``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.api.openai.contract import Messages, PromptValue, SeveralAtMost
from app.api.openai.contract_types import Body, OneOf, WholeNumber

DEFAULT_DIMENSIONS = 512
MAX_DIMENSIONS = 8192
MAX_INPUTS = 2048

EmbeddingInputs = Annotated[PromptValue, SeveralAtMost(MAX_INPUTS)]
Dimensions = Annotated[int, Field(ge=1, le=MAX_DIMENSIONS), WholeNumber]


class EmbeddingBody(Body):
    """``POST /v1/embeddings``."""

    model: str
    input: EmbeddingInputs = Field(description="a text, token ids, or an array of those "
                                               "(each embedded on its own; no empty text)")
    encoding_format: Annotated[str, OneOf(("float", "base64"))] = Field(
        "float", description="base64: each vector as little-endian float32 bytes")
    dimensions: Dimensions = Field(DEFAULT_DIMENSIONS,
                                   description="the length of each vector")


class TokenizeBody(Body):
    """``POST /tokenize``: ``prompt`` or ``messages``, or llama.cpp's ``content``."""

    model: str | None = None
    prompt: str | None = Field(None, description="text to tokenize")
    messages: Messages | None = Field(
        None, description="a chat, rendered with the chat template (its count is a chat "
                          "completion's prompt_tokens)")
    content: str | None = Field(None, description="llama.cpp's field: answered in its shape")
    with_pieces: bool = Field(False, description="each token's text too")
    add_special: bool = Field(False, description="llama.cpp's; changes nothing (the "
                                                 "vocabulary has no special tokens)")
    parse_special: bool = Field(True, description="llama.cpp's; changes nothing")


class DetokenizeBody(Body):
    """``POST /detokenize``."""

    model: str | None = None
    tokens: list[int] = Field(description="token ids")
