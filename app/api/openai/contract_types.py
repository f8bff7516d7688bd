"""The field types the request contract (app/api/openai/contract.py) is written in.

They read JSON as :class:`app.api.http.body.Fields` always has: no coercion (``"8"`` is not a
number, ``true`` not an integer) except a whole float for an integer (``2.0`` is 2), and
a string that must be one of a few says which (``must be one of 'free', 'line', …``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.api.http.body import json_type


class Body(BaseModel):
    """A JSON object of a request: strict types, JSON ``null`` counting as absent (OpenAI
    marks nearly every optional field nullable, and clients send ``null`` for unset), and
    unknown fields ignored (clients send OpenAI's newer fields and their own: ``user``,
    ``metadata``, ``store``…; we have always accepted them)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def _whole(value: object) -> object:
    # JSON has one number type; some clients write 2 as 2.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole)
Integer = Annotated[int, WholeNumber]
# A number kept as the client wrote it (9 stays 9, not 9.0): for a field passed on to a
# service that checks its range, so that the service's message quotes the value as sent.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
# A nullable integer takes its limits inside (Annotated[int, Field(ge=…), WholeNumber]):
# put on the outer Field, pydantic would publish them as "ge"/"le", not JSON Schema's
# "minimum"/"maximum".


class Checked:
    """An ``Annotated`` marker whose ``_check`` runs after the type's own validation (and
    raises ``PydanticCustomError``); subclasses say how the schema publishes the rule."""

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class OneOf(Checked):
    """A string that must be one of ``choices`` (given at run time, so not a Literal)."""

    choices: tuple[str, ...]
    note: str = ""  # said after the choices: why only these

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}

    def _check(self, value: str) -> str:
        if value not in self.choices:
            raise PydanticCustomError("one_of", "must be one of {choices}, not {value}{note}",
                                      {"choices": ", ".join(map(repr, self.choices)),
                                       "value": repr(value),
                                       "note": f" ({self.note})" if self.note else ""})
        return value


@dataclass(frozen=True)
class Matching(Checked):
    """A string that must match ``pattern``, which ``meaning`` says in words (``must be 1 to
    64 letters, digits, '_' or '-'``); the schema publishes the pattern."""

    pattern: str
    meaning: str

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}

    def _check(self, value: str) -> str:
        if not re.fullmatch(self.pattern, value):
            raise PydanticCustomError("matching", "{meaning}, not {value}",
                                      {"meaning": self.meaning, "value": repr(value)})
        return value


def required_when(condition: str) -> PydanticCustomError:
    """The error of a field that is required only sometimes (``text`` in a ``text`` part):
    reported as a missing field, with the condition (app/api/openai/contract_errors.py)."""
    return PydanticCustomError("required_when", "is required {condition}",
                               {"condition": condition})


def on_the_field(describe: Callable[[ValidationError], str]) -> WrapValidator:
    """A wrap validator that reports whatever is wrong inside a value on the value's field,
    in ``describe``'s words: for objects whose keys are data (``logit_bias``'s token ids),
    where a key is no field name to put in ``param``."""
    def validate(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise PydanticCustomError("field", "{message}",
                                      {"message": describe(exc)}) from None
    return WrapValidator(validate)


def an_item(expected: str) -> WrapValidator:
    """A wrap validator for the items of an array each of which is a value of its own
    (one of several prompts): whatever is wrong inside one is reported on it
    (``param`` ``prompt[1]``, not ``prompt``), as not being ``expected``."""
    def validate(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("item", "{expected}, not {kind}",
                                      {"expected": expected, "kind": json_type(value)}) from None
    return WrapValidator(validate)


@dataclass(frozen=True)
class PublishedAs:
    """A value read as it comes (``Any``) but published as ``model``'s schema: an array's
    items that are checked one by one later, each failing on its own (a batch's requests,
    where one bad request does not void the others)."""

    model: type[BaseModel]

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: value, json_schema_input_schema=handler.generate_schema(self.model))
