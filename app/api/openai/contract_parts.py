"""The shapes of a chat request's structured fields, declared once for the request contract.

They are validated here (types, required fields, the roles, the part types, the tool type)
and published in ``/openapi.json``; the modules that give them their meaning receive the
validated objects and check only what needs the model or the whole request: ``messages``
(app/api/openai/messages.py) are rendered and tokenized, ``tools`` and ``tool_choice``
(app/api/openai/tools.py) compiled into grammars and matched against each other,
``response_format`` (app/api/openai/json_mode.py) compiled into a grammar.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from app.api.openai.contract_types import Body, Matching, OneOf, required_when
from app.chat_template import ROLES

SCHEMA_NOTE = ("Decoded under the schema (llguidance), strict or not, so the reply always "
               "parses and validates; unbounded strings are at most 32 characters and "
               "arrays 8 items, objects get only the properties they name. Stop sequences do "
               "not apply; without max_tokens the reply gets at most 256 tokens; if "
               "max_tokens ends first, finish_reason is 'length'. An invalid or too large "
               "(over 64 KiB) schema is a 400 naming it.")
TEXT_PARTS = ("text", "input_text", "refusal")


class _Shape(Body):
    # Clients send more than we read (OpenAI's newer fields): the schema says nothing
    # against them.
    model_config = ConfigDict(extra="allow")


class ContentPart(_Shape):
    type: Annotated[str, OneOf(TEXT_PARTS, "this model reads text only")] = Field(
        description="text, input_text or refusal (this model reads text only)")
    text: str | None = Field(None, validate_default=True,
                             description="a text or input_text part's text")
    refusal: str | None = Field(None, validate_default=True,
                                description="a refusal part's text")

    @field_validator("text", "refusal")
    @classmethod
    def _of_its_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")  # absent when the type was wrong: reported as that
        wanted = "refusal" if kind == "refusal" else "text"
        if value is None and kind is not None and info.field_name == wanted:
            raise required_when(f"in a {kind!r} part")
        return value

    @property
    def value(self) -> str:
        """The part's text."""
        return (self.refusal if self.type == "refusal" else self.text) or ""


class CalledFunction(_Shape):
    name: str
    arguments: str | None = None


class ToolCall(_Shape):
    function: CalledFunction


class Message(_Shape):
    role: Literal[tuple(ROLES)]  # type: ignore[valid-type]  # the template's roles
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = Field(
        None, description="an assistant's earlier calls, shown to the model as "
                          "name(arguments) lines")
    tool_call_id: str | None = None


class JsonSchemaFormat(_Shape):
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Shape):
    """json_object: any JSON object (under the JSON Schema a system message spells out, if
    one does). json_schema: see SCHEMA_NOTE."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = Field(None, validate_default=True)

    @field_validator("json_schema")
    @classmethod
    def _given_for_its_type(cls, value: JsonSchemaFormat | None,
                            info: ValidationInfo) -> JsonSchemaFormat | None:
        if value is None and info.data.get("type") == "json_schema":
            raise required_when("when 'type' is 'json_schema'")
        return value


class Function(_Shape):
    name: Annotated[str, Matching(r"^[A-Za-z0-9_-]{1,64}$",
                                  "must be 1 to 64 letters, digits, '_' or '-'")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Shape):
    type: Literal["function"] = "function"
    function: Function


class FunctionName(_Shape):
    name: str


class ToolChoice(_Shape):
    """A named function: that one is called."""

    type: Literal["function"]
    function: FunctionName
