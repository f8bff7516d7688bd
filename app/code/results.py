"""What code queries return: small frozen dataclasses with JSON-ready ``to_dict()``.

Lines and columns are 1-based; columns count characters. Paths are the stored absolute
paths of the ingested documents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


class Result(Protocol):
    """Any code query's result: it converts itself to JSON-ready values."""

    def to_dict(self) -> dict[str, Any]: ...


def _plain(value: Any) -> Any:
    if isinstance(value, _JSON):  # the result dataclasses (each a _JSON) nest
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _JSON:
    # Every subclass is a dataclass (this says so to dataclasses.fields).
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Symbol(_JSON):
    """A definition."""

    id: int
    name: str
    qualified_name: str
    kind: str
    language: str
    path: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    name_line: int
    name_col: int
    signature: str
    doc: str
    parent: str | None = None  # the enclosing definition's qualified name
    score: float | None = None  # ranking score when a query ranks (higher is better)


@dataclass(frozen=True)
class Site(_JSON):
    """One use of a name: a call, a use as a type, or another reference."""

    name: str
    kind: str
    language: str
    path: str
    line: int
    column: int
    snippet: str
    enclosing: str | None  # qualified name of the definition the site is in (None: file level)
    enclosing_id: int | None


@dataclass(frozen=True)
class Caller(_JSON):
    """A definition (or a file's top level) that calls a name, with where it does."""

    name: str  # the called name
    caller: Symbol | None  # None when the calls are at a file's top level
    path: str
    lines: list[int]
    count: int


@dataclass(frozen=True)
class Callee(_JSON):
    """A name called from a definition, with its best-ranked definition if one is indexed."""

    name: str
    count: int
    lines: list[int]
    definition: Symbol | None


@dataclass(frozen=True)
class Implementation(_JSON):
    """A type deriving from / implementing a type, or a method overriding a method."""

    symbol: Symbol
    relation: str  # "extends", "implements" or "overrides"
    base: str  # the name it derives from (or the type whose method it overrides)
    depth: int  # 1 for direct, 2 for a subclass of a subclass, …


@dataclass(frozen=True)
class SearchHit(_JSON):
    """A matching line."""

    path: str
    language: str
    line: int
    column: int
    match: str
    snippet: str
    score: float
    symbol: str | None = None  # qualified name of the definition the line is in
    context: list[str] = field(default_factory=list)  # surrounding lines when asked for


@dataclass(frozen=True)
class SimilarHit(_JSON):
    """A definition whose shape resembles the query's."""

    symbol: Symbol
    score: float  # estimated Jaccard similarity of normalised shapes, 1.0 for exact clones
    exact: bool  # identical normalised shape (a copy, possibly renamed)


@dataclass(frozen=True)
class SimilarResult(_JSON):
    query: Symbol
    hits: list[SimilarHit]


@dataclass(frozen=True)
class AnalogyHit(_JSON):
    symbol: Symbol
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class AnalogyResult(_JSON):
    example: Symbol
    from_type: str
    to_type: str
    expected_name: str  # the example's name with the type swapped
    hits: list[AnalogyHit]


@dataclass(frozen=True)
class IngestedFile(_JSON):
    """One ingested document, as the file tree lists it."""

    path: str
    language: str
    size: int  # bytes, as ingested


@dataclass(frozen=True)
class SourceFile(_JSON):
    """An ingested document's whole text, as the hypercube holds it (not as the disk has it
    now: the file may have changed or gone since it was ingested)."""

    path: str
    language: str
    text: str
    lines: int  # lines as an editor numbers them: a final newline does not start another


@dataclass(frozen=True)
class CalleeSet(_JSON):
    """What one definition calls."""

    symbol: Symbol
    callees: list[Callee]
