"""The request body of ``POST /v1/responses`` (OpenAI's Responses API), declared once in the
style of app/api/openai/contract.py: read with :func:`app.api.openai.contract.read` (a
mistake is a 400 naming the field) and published in ``/openapi.json``.

``temperature``, ``top_p`` and ``text.format`` are passed on to the chat service
(app/api/dialects/responses.py), whose contract holds their limits and shapes; here they
have their types. Unknown fields are ignored, as on ``/v1/chat/completions``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from app.api.openai.contract_types import Body, Number, OneOf, WholeNumber, required_when

PART_TYPES = ("input_text", "output_text", "text")
_AS_CHAT = "as /v1/chat/completions' field of the same name (its limits apply)"


class InputPart(Body):
    type: Annotated[str, OneOf(PART_TYPES, "this model reads text only")]
    text: str | None = Field(None, validate_default=True)

    @field_validator("text")
    @classmethod
    def _given(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")  # absent when the type was wrong: reported as that
        if value is None and kind is not None:
            raise required_when(f"in an {kind!r} part")
        return value


class InputMessage(Body):
    type: Annotated[str, OneOf(("message",), "send messages")] = "message"
    role: str
    content: str | list[InputPart] = Field("", description="a string or text parts")


class TextOptions(Body):
    format: dict[str, Any] | None = Field(
        None, description="{type: text | json_object | json_schema, and json_schema's "
                          "name, schema, strict}: the chat service's response_format")


class ResponsesBody(Body):
    """``POST /v1/responses``: stateless."""

    model: str
    input: str | Annotated[list[InputMessage], Field(min_length=1)] = Field(
        description="a user message, or the messages")
    instructions: str | None = Field(None, description="a system message first")
    max_output_tokens: Annotated[int, Field(ge=0), WholeNumber] | None = Field(
        None, description="most tokens the reply gets")
    temperature: Number | None = Field(None, description=_AS_CHAT)
    top_p: Number | None = Field(None, description=_AS_CHAT)
    stream: bool = Field(False, description="server-sent events")
    store: bool = Field(True, description="accepted; nothing is stored (answered false)")
    text: TextOptions | None = None
    metadata: dict[str, Any] | None = Field(None, description="returned with the response")
    previous_response_id: str | None = Field(None, description="refused: nothing is stored")
    tools: list[Any] | None = Field(None, description="refused unless empty: this model "
                                                      "cannot call tools")
