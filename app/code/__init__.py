"""Code intelligence: tree-sitter ingestion of source files and the queries over it.

``CodeAnalyzer`` plugs into ingestion (see app.ingest.protocols); ``CodeIndex`` answers the
queries (definitions, references, callers and callees, implementations, search, similar
code, analogies, a document's whole text) for the CLI and the HTTP API.
"""

from app.code.analyzer import CodeAnalyzer
from app.code.index import CodeIndex
from app.code.locate import Position
from app.code.results import (
    AnalogyHit,
    AnalogyResult,
    Callee,
    CalleeSet,
    Caller,
    Implementation,
    SearchHit,
    SimilarHit,
    SimilarResult,
    Site,
    SourceFile,
    Symbol,
)

__all__ = [
    "AnalogyHit",
    "AnalogyResult",
    "Callee",
    "CalleeSet",
    "Caller",
    "CodeAnalyzer",
    "CodeIndex",
    "Implementation",
    "Position",
    "SearchHit",
    "SimilarHit",
    "SimilarResult",
    "Site",
    "SourceFile",
    "Symbol",
]
