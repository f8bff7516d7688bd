"""A request contract's validation error as the 400 our readers have always answered.

Pydantic reports every problem it finds, located by a path that also names the branches of
unions it tried; a client wants one problem, the most specific, said the way
:class:`app.api.http.body.Fields` says it (``'top_p' must be at most 1.0, got 1.5``) with
``param`` naming the field as the client wrote it (``stream_options.include_usage``). A
scalar inside an array is reported on its array (``stop``, not ``stop[3]``): OpenAI's
``param`` names fields, and that is what our readers always did; an item that should be an
object (a message, a tool) or is a value of its own (one of several prompts) is reported
on itself (``messages[0]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.api.http.body import json_type
from app.errors import InvalidRequest

# What a value of each pydantic type error should have been.
_NOUNS = {
    "int_type": "an integer", "int_from_float": "an integer", "int_parsing": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "bool_type": "a boolean", "list_type": "an array",
    "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
}


# A field that is not there: always, or under a condition (contract_types.required_when).
_MISSING = ("missing", "required_when")


_OBJECTS = ("model_type", "model_attributes_type", "dict_type")


@dataclass(frozen=True)
class _Place:
    param: str      # the field, as OpenAI's ``param`` names it
    where: str      # where in it: an array's item, when that is what is wrong
    depth: int      # how deep into the body the problem lies


def _place(body: Any, loc: tuple[int | str, ...], missing: bool) -> _Place:
    """Follow ``loc`` through the body, skipping the names of union branches and
    validators (they are not in the data); a missing field is the last name."""
    param, where, depth, value = "", "", 0, body
    for i, item in enumerate(loc):
        if missing and i == len(loc) - 1 and isinstance(item, str):
            param = where = f"{param}.{item}" if param else item
            depth += 1
        elif isinstance(value, Mapping) and isinstance(item, str) and item in value:
            value = value[item]
            param = where = f"{param}.{item}" if param else item
        elif isinstance(value, list) and isinstance(item, int) and 0 <= item < len(value):
            value = value[item]
            where = f"{param}[{item}]"
            if isinstance(value, dict | list):
                param = where
        else:
            continue
        depth += 1
    return _Place(param, where, depth)


def _is_type_error(error: ErrorDetails) -> bool:
    return error["type"] in _NOUNS


def phrase(error: ErrorDetails) -> str:
    """What is wrong, as the end of a sentence about the value (``must be at most 2.0,
    got 9``)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in _NOUNS:
        return f"must be {_NOUNS[kind]}, not {json_type(value)}"
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {ctx[key]}, got {value}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters long"
    if kind == "string_too_short":
        return "must not be empty" if ctx["min_length"] == 1 else (
            f"must be at least {ctx['min_length']} characters long")
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}, not {value!r}"
    if kind == "too_long":
        return f"may hold at most {ctx['max_length']} items"
    if kind == "too_short":
        return "must not be empty" if ctx["min_length"] == 1 else (
            f"must hold at least {ctx['min_length']} items")
    if kind == "literal_error":
        return f"must be {ctx['expected']}, not {value!r}"
    # Our own checks (PydanticCustomError) word their message as the end of the sentence.
    return error["msg"]


@dataclass(frozen=True)
class Problem:
    """The one problem reported: where, and what is wrong (the end of a sentence)."""

    param: str
    where: str
    text: str
    error: ErrorDetails


def problem(exc: ValidationError, body: Mapping[str, Any]) -> Problem:
    """The most specific of the errors (the deepest; a broken limit before a wrong type,
    since a limit is only checked once the type is right)."""
    errors = exc.errors(include_url=False)
    places = [_place(body, e["loc"], e["type"] in _MISSING) for e in errors]
    ranked = sorted(range(len(errors)),
                    key=lambda i: (-places[i].depth, _is_type_error(errors[i])))
    first = errors[ranked[0]]
    place = places[ranked[0]]
    if _is_type_error(first):
        # A union's branches each said what the value is not: say what it may be.
        nouns = list(dict.fromkeys(_NOUNS[errors[i]["type"]] for i in ranked
                                   if places[i] == place and _is_type_error(errors[i])))
        text = f"must be {' or '.join(nouns)}, not {json_type(first.get('input'))}"
    else:
        text = phrase(first)
    # An item that should have been an object is a place of its own ('messages[0]').
    param = place.where if first["type"] in _OBJECTS else place.param
    return Problem(param, place.where, text, first)


def invalid_request(exc: ValidationError, body: Mapping[str, Any]) -> InvalidRequest:
    """The problem as an OpenAI 400 naming the field."""
    found = problem(exc, body)
    if found.error["type"] == "missing":
        return InvalidRequest(f"you must provide '{found.param}'", param=found.param)
    if found.error["type"] == "item":  # a value of its own (contract_types.an_item)
        return InvalidRequest(f"'{found.where}' {found.text}", param=found.where)
    if found.error["type"] == "required_when":
        return InvalidRequest(f"'{found.param}' {found.text}", param=found.param)
    return InvalidRequest(f"'{found.where}' {found.text}", param=found.param)
