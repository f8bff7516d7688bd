"""The shapes of a chat request's structured fields, for the request contract's schema.

They are declared for ``/openapi.json`` only: each is read by the module that gives it its
meaning, and words its own errors there (``messages`` by app/api/openai/messages.py, ``tools`` and
``tool_choice`` by app/api/openai/tools.py, ``response_format`` by app/api/openai/json_mode.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.chat_template import ROLES

SCHEMA_NOTE = ("Decoded under the schema (llguidance), strict or not, so the reply always "
               "parses and validates; unbounded strings are at most 32 characters and "
               "arrays 8 items, objects get only the properties they name. Stop sequences do "
               "not apply; without max_tokens the reply gets at most 256 tokens; if "
               "max_tokens ends first, finish_reason is 'length'. An invalid or too large "
               "(over 64 KiB) schema is a 400 naming it.")


class _Shape(BaseModel):
    # Clients send more than we read (OpenAI's newer fields): the schema says nothing
    # against them.
    model_config = ConfigDict(extra="allow")


class ContentPart(_Shape):
    type: str = Field(description="text, input_text or refusal (this model reads text only)")
    text: str | None = None
    refusal: str | None = None


class Message(_Shape):
    role: Literal[tuple(ROLES)]  # type: ignore[valid-type]  # the template's roles
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = Field(
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

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class Function(_Shape):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Shape):
    type: Literal["function"]
    function: Function


class FunctionName(_Shape):
    name: str


class ToolChoice(_Shape):
    """A named function: that one is called."""

    type: Literal["function"]
    function: FunctionName
