"""The CLI's generation flags, made from the request contract's fields (app/api/openai/contract.py).

``--top-p`` is ``top_p`` of the request body: the same type, default, description and
limits, checked by the same declaration, so ``hypercube complete`` refuses exactly what
``/v1/completions`` refuses (worded for a flag: ``--top-p must be at most 1.0, got 1.5``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError, create_model

from app.api.openai.contract_errors import problem
from app.api.openai.contract_types import Body
from app.errors import InvalidRequest

# The sampling controls both commands take, in the order --help lists them.
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
            "seed")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kind(schema: dict[str, Any]) -> tuple[type, bool]:
    """The flag's value type, and whether it repeats (a field that takes an array)."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    types = {b.get("type") for b in branches}
    if "array" in types:
        return str, True
    return {"integer": int, "number": float}.get(next(iter(types), "string"), str), False


def _range(schema: dict[str, Any]) -> str:
    branch = next(b for b in schema.get("anyOf", [schema]) if b.get("type") != "null")
    low, high = branch.get("minimum"), branch.get("maximum")
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    return "" if low is None else f"at least {low:g}"


class Flags:
    """The flags of ``names`` (fields of ``body``), added to a parser and checked after it
    has parsed them."""

    def __init__(self, body: type[Body], names: Sequence[str],
                 defaults: dict[str, Any] | None = None) -> None:
        fields = body.model_fields
        self.names = tuple(names)
        self.defaults = defaults or {}
        # A contract of just these fields: the checks are the body's, field for field.
        declared: dict[str, Any] = {n: (fields[n].annotation, fields[n]) for n in names}
        self.model = create_model(f"{body.__name__}Flags", __base__=Body, **declared)
        self.schema = body.model_json_schema()["properties"]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        for name in self.names:
            field = self.model.model_fields[name]
            schema = self.schema[name]
            value_type, repeats = _kind(schema)
            text = field.description or ""
            if repeats:
                parser.add_argument(flag(name), action="append", default=[], metavar="TEXT",
                                    help=f"{text} (repeat for more)")
                continue
            default = self.defaults.get(name, field.get_default(call_default_factory=True))
            notes = [n for n in (_range(schema),
                                 None if default is None else f"default {default:g}") if n]
            parser.add_argument(flag(name), type=value_type, default=default,
                                metavar="N" if value_type is int else "X",
                                help=f"{text} ({', '.join(notes)})" if notes else text)

    def read(self, args: argparse.Namespace) -> dict[str, Any]:
        """The flags' values, checked against the contract; one clear error if not."""
        values = {name: getattr(args, name) for name in self.names}
        try:
            checked = self.model.model_validate(values)
        except ValidationError as exc:
            found = problem(exc, values)
            text = found.text
            if found.error["type"] == "too_long" and isinstance(values[found.param], list):
                text = f"may be given at most {found.error['ctx']['max_length']} times"
            raise InvalidRequest(f"{flag(found.param)} {text}", param=found.param) from None
        return {name: getattr(checked, name) for name in self.names}
