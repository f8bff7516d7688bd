"""``response_format``: plain text, any JSON object, or JSON valid under a given schema.

``{"type": "json_object"}`` and ``{"type": "json_schema", "json_schema": {"name", "schema",
"strict", "description"}}`` (strict or not: the schema is always enforced) both become a
grammar the engine decodes under (:mod:`app.engine.constrained`): every token is sampled from
the model's distribution among the tokens the grammar allows, so the reply always parses and
validates. A schema that is invalid, too large or uses a keyword that cannot be enforced is
a 400 naming ``response_format.json_schema.schema``.

``json_object`` with a JSON Schema written in a system message (as Instructor's JSON mode
and similar clients write one, asking for an object that matches it) is decoded under that
schema, so those clients get an object of the shape they asked for; without one, under
any JSON object.
"""

from __future__ import annotations

import json
from typing import Any

from app.api.openai.contract_parts import ResponseFormat
from app.chat_template import Message
from app.engine.constrained import Grammar, json_object_grammar, json_schema_grammar
from app.errors import InvalidRequest
from app.tokenizer import Tokenizer

# Budget when the caller sets none: a structured reply needs no more.
DEFAULT_MAX_TOKENS = 256
# Looking for a schema in the instructions is bounded: this much text, this many tries.
SCAN_CHARS = 64 * 1024
SCAN_TRIES = 64


def read_grammar(response_format: ResponseFormat | None, tokenizer: Tokenizer,
                 messages: list[Message] | None = None) -> Grammar | None:
    """The grammar ``response_format`` (its shape checked by the request contract) asks
    for, or None for plain text."""
    if response_format is None:
        return None
    if response_format.type == "json_object":
        schema = schema_in_instructions(messages or [])
        if schema is not None:
            try:
                return json_schema_grammar(schema, tokenizer, "messages")
            except InvalidRequest:
                pass  # not one we can enforce: any object, as asked
        return json_object_grammar(tokenizer)
    if response_format.type == "json_schema":
        spec = response_format.json_schema
        assert spec is not None  # the contract requires it for this type
        schema = spec.schema_
        return json_schema_grammar(schema if schema is not None else {"type": "object"},
                                   tokenizer, "response_format.json_schema.schema")
    return None


def schema_in_instructions(messages: list[Message]) -> dict[str, Any] | None:
    """The first JSON Schema of an object written in a system message, if there is one."""
    decoder = json.JSONDecoder()
    tries = 0
    for message in messages:
        if message.role != "system":
            continue
        text = message.content[:SCAN_CHARS]
        start = text.find("{")
        while start >= 0 and tries < SCAN_TRIES:
            tries += 1
            try:
                value, end = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if (isinstance(value, dict) and isinstance(value.get("properties"), dict)
                    and value.get("type", "object") == "object"):
                return value
            start = text.find("{", end)
    return None
