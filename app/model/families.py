"""Language families: which documents' statistics a completion in a given language may use.

Code of one language predicts code of the same language; another language's code only
leaks its idioms and identifiers (a Python completion that continues with C# generics
because a C# project was ingested beside it). So the model keeps each family's documents in
segments of their own (app/model/maintain.py), and a completion in a known language is
predicted from that family's segments only (:meth:`app.model.Model.for_language`).

A family groups languages whose code is mutually useful: JavaScript with TypeScript (the
same statements, the same libraries), C with C++ (headers are shared). Everything that is
not one of the code languages we parse (prose, markup, configuration, shell) is ``text``.
"""

from __future__ import annotations

TEXT = "text"

_FAMILIES: dict[str, str] = {
    "python": "python",
    "javascript": "javascript", "typescript": "javascript", "tsx": "javascript",
    "c": "c", "cpp": "c",
    "csharp": "csharp",
    "go": "go",
    "rust": "rust",
    "java": "java",
}

CODE_FAMILIES = frozenset(_FAMILIES.values())


def family_of(language: str | None) -> str:
    """The family of a document language as ``app.detect`` names it (``text`` for the rest)."""
    if language is None:
        return TEXT
    return _FAMILIES.get(language.strip().lower(), TEXT)


def code_family(language: str | None) -> str | None:
    """The family of a request's language if it is a code language, else None (no focus)."""
    return None if language is None else _FAMILIES.get(language.strip().lower())
