"""``response_format``: plain text, any JSON object, or JSON valid under a given schema.

``{"type": "json_object"}`` and ``{"type": "json_schema", "json_schema": {"name", "schema",
"strict", "description"}}`` (strict or not: the schema is always enforced) both become a
grammar the engine decodes under (:mod:`app.engine.constrained`): every token is sampled from
the model's distribution among the tokens the grammar allows, so the reply always parses and
validates. A schema that is invalid, too large or uses a keyword that cannot be enforced is
a 400 naming ``response_format.json_schema.schema``.
"""

from __future__ import annotations

from app.api.body import Fields
from app.engine.constrained import Grammar, json_object_grammar, json_schema_grammar
from app.tokenizer import Tokenizer

# Budget when the caller sets none: a structured reply needs no more.
DEFAULT_MAX_TOKENS = 256
KINDS = ("text", "json_object", "json_schema")


def read_grammar(fields: Fields, tokenizer: Tokenizer) -> Grammar | None:
    """The grammar ``response_format`` asks for, or None for plain text."""
    response_format = fields.nested("response_format")
    if response_format is None:
        return None
    kind = response_format.string("type", "text", choices=KINDS)
    if kind == "json_object":
        return json_object_grammar(tokenizer)
    if kind == "json_schema":
        spec = response_format.nested("json_schema")
        if spec is None:
            raise response_format.fail("json_schema", "is required when 'type' is "
                                                      "'json_schema'")
        spec.string("name", required=True)
        spec.string("description")
        spec.boolean("strict")
        schema = spec.object("schema")
        return json_schema_grammar(schema if schema is not None else {"type": "object"},
                                   tokenizer, spec.path("schema"))
    return None
