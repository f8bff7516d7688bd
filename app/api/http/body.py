"""Reading request bodies: JSON objects with typed fields, each mistake a 400 naming its field."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, overload

import falcon
import orjson

from app.errors import InvalidRequest, PayloadTooLarge

DEFAULT_MAX_BODY = 100_000_000


def read_raw(req: falcon.Request, limit_name: str = "max_body_bytes") -> bytes:
    """The whole body, refusing more than the configured limit even without Content-Length
    (a chunked body is read up to one byte past the limit, never further)."""
    limit = req.context.get(limit_name) or req.context.get("max_body_bytes", DEFAULT_MAX_BODY)
    # Falcon types context values as Any | None; the app's middleware sets both limits as ints.
    assert isinstance(limit, int), limit
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes")
    return data


def read_json(req: falcon.Request) -> dict[str, Any]:
    """The body as a JSON object, no larger than the JSON limit (checked before decoding:
    decoding multiplies a body's size in memory many times over)."""
    return parse_json_object(read_raw(req, "max_json_bytes"))


def parse_json_object(data: bytes | str) -> dict[str, Any]:
    if not data:
        raise InvalidRequest("the request body is empty: send a JSON object")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc}). The body must be a "
            "JSON object in UTF-8."
        ) from exc
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"the request body must be a JSON object, not {json_type(value)}"
        )
    return value


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Fields:
    """Typed reads of one JSON object's fields.

    JSON ``null`` counts as absent (OpenAI marks nearly every optional field nullable), and
    every error names the field by its full path (``messages[2].content``) in ``param``.
    """

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> InvalidRequest:
        return InvalidRequest(f"'{self.path(name)}' {message}", param=self.path(name))

    def present(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def _missing(self, name: str, required: bool) -> None:
        if required:
            raise InvalidRequest(f"you must provide '{self.path(name)}'", param=self.path(name))

    def string(self, name: str, default: str | None = None, *, required: bool = False,
               choices: Collection[str] | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            self._missing(name, required)
            return default
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, not {json_type(value)}")
        if choices is not None and value not in choices:
            raise self.fail(name, f"must be one of {', '.join(map(repr, choices))}, "
                                  f"not {value!r}")
        return value

    @overload
    def integer(self, name: str, default: int, *, minimum: int | None = None,
                maximum: int | None = None, required: bool = False) -> int: ...
    @overload
    def integer(self, name: str, default: None = None, *, minimum: int | None = None,
                maximum: int | None = None, required: bool = False) -> int | None: ...
    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None,
                maximum: int | None = None, required: bool = False) -> int | None:
        value = self.data.get(name)
        if value is None:
            self._missing(name, required)
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be an integer, not {json_type(value)}")
        self._check_range(name, value, minimum, maximum)
        return value

    @overload
    def number(self, name: str, default: float, *,
               minimum: float | None = None, maximum: float | None = None) -> float: ...
    @overload
    def number(self, name: str, default: None = None, *,
               minimum: float | None = None, maximum: float | None = None) -> float | None: ...
    def number(self, name: str, default: float | None = None, *,
               minimum: float | None = None, maximum: float | None = None) -> float | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, not {json_type(value)}")
        self._check_range(name, value, minimum, maximum)
        return float(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, f"must be a boolean, not {json_type(value)}")
        return value

    def object(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(name, f"must be an object, not {json_type(value)}")
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        value = self.data.get(name)
        if value is None:
            self._missing(name, required)
            return None
        if not isinstance(value, list):
            raise self.fail(name, f"must be an array, not {json_type(value)}")
        return value

    def nested(self, name: str) -> Fields | None:
        value = self.object(name)
        return None if value is None else Fields(value, self.path(name))

    def _check_range(self, name: str, value: float, minimum: float | None,
                     maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.fail(name, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(name, f"must be at most {maximum}, got {value}")


def query_int(req: falcon.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query-string parameter within a range."""
    raw = req.get_param(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an integer", param=name) from None
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"'{name}' must be between {minimum} and {maximum}", param=name)
    return value
