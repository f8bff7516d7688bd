"""Ollama's request bodies (``/api/generate``, ``/api/chat``, ``/api/embed``,
``/api/embeddings``, ``/api/show``), declared once in the style of
app/api/openai/contract.py: read with :func:`app.api.openai.contract.read` (a mistake is a
400 naming the field, in Ollama's error shape: app/api/dialects/errors.py) and published in
``/openapi.json``.

The sampling ``options`` are passed on under their OpenAI names (app/api/dialects/
ollama_options.py) to the completions and chat services, whose contract holds their
limits; here they have their types. Unknown fields and unknown options are ignored, as
Ollama ignores them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from app.api.openai.contract_aux import Dimensions, EmbeddingInputs
from app.api.openai.contract_parts import Tool
from app.api.openai.contract_types import Body, Integer, Number, OneOf, WholeNumber
from app.engine.limits import MAX_TOOLS, MAX_TOP_LOGPROBS

_AS_OPENAI = "as /v1/completions' field of the same name (its limits apply)"
_TEXT_ONLY = "refused unless empty: this model reads text only"


class OllamaOptions(Body):
    """Modelfile parameters; see app/api/dialects/ollama_options.py for which map and which
    are ignored."""

    num_predict: Integer | None = Field(None, description="most tokens to generate; -1 "
                                                          "and -2 (and none): 1024")
    temperature: Number | None = Field(None, description=_AS_OPENAI)
    top_p: Number | None = Field(None, description=_AS_OPENAI)
    top_k: Integer | None = Field(None, description=_AS_OPENAI)
    min_p: Number | None = Field(None, description=_AS_OPENAI)
    seed: Integer | None = Field(None, description=_AS_OPENAI)
    presence_penalty: Number | None = Field(None, description=_AS_OPENAI)
    frequency_penalty: Number | None = Field(None, description=_AS_OPENAI)
    stop: str | list[str] | None = Field(None, description=_AS_OPENAI)


class OllamaNamed(Body):
    """A body that names the model: ``model``, or ``name`` from older clients."""

    model: str | None = Field(None, description="hypercube or hypercube:latest")
    name: str | None = Field(None, description="older clients' model")


class OllamaCommon(OllamaNamed):
    """What ``/api/generate`` and ``/api/chat`` share."""

    stream: bool = Field(True, description="NDJSON, one object a line (Ollama's default)")
    options: OllamaOptions | None = None
    keep_alive: str | Number | None = Field(
        None, description="accepted: the model never unloads (0 answers 'unload')")
    format: Annotated[str, OneOf(("json", ""))] | dict[str, Any] | None = Field(
        None, description="\"json\" or a JSON schema: the reply is decoded under it")


class OllamaGenerateBody(OllamaCommon):
    """``POST /api/generate``; without a prompt, suffix or context, Ollama's "load the
    model" call."""

    prompt: str = Field("", description="the text continued")
    suffix: str | None = Field(None, description="text after the cursor: fill in the middle")
    system: str | None = Field(None, description="written before the prompt (unless raw)")
    raw: bool = Field(False, description="the prompt as it is, without the template")
    context: list[int] | None = Field(None, description="the token ids an earlier answer "
                                                        "returned: the conversation so far")
    images: list[str] | None = Field(None, description=_TEXT_ONLY)
    logprobs: bool = Field(False, description="each token's log-probability")
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS), WholeNumber] | None = Field(
        None, description="alternatives per token (with logprobs)")


class OllamaMessage(Body):
    role: str
    content: str | None = None
    images: list[str] | None = Field(None, description=_TEXT_ONLY)


class OllamaChatBody(OllamaCommon):
    """``POST /api/chat``; without messages, Ollama's "load the model" call."""

    messages: list[OllamaMessage] = Field(default_factory=list,
                                          description="the conversation, oldest first")
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = Field(
        None, description="as /v1/chat/completions' tools")


class OllamaEmbedBody(OllamaNamed):
    """``POST /api/embed``."""

    input: EmbeddingInputs = Field(description="a text or texts (as /v1/embeddings' input)")
    truncate: bool = Field(True, description="accepted; an input longer than the context "
                                             "window is refused all the same")
    dimensions: Dimensions | None = Field(None, description="the length of each vector")


class OllamaEmbeddingsBody(OllamaNamed):
    """``POST /api/embeddings`` (older)."""

    prompt: str = Field("", description="the text (empty: an empty embedding)")


class OllamaShowBody(OllamaNamed):
    """``POST /api/show``."""
