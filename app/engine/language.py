"""The language of the document a request completes.

Explicit ``language`` wins, then the ``filename``'s extension (and well-known names), then
what the prompt itself shows (a shebang, a modeline, ``package main``, ``def f(``…; see
app/detect.py). The engine then predicts with the model's view for that language and the
file's project (:meth:`app.engine.Engine.model_for`).
"""

from __future__ import annotations

from app.detect import detect_language
from app.errors import InvalidRequest

# The languages a request may name (contract: the completion request's ``language``).
LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp",
             "csharp", "text")
_HEAD_BYTES = 4096


def resolve_language(language: str | None, filename: str | None,
                     prompt_text: str) -> str | None:
    """The document's language, or None when nothing tells."""
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidRequest(f"language must be one of {', '.join(LANGUAGES)}",
                                 param="language")
        return language
    head = prompt_text[:_HEAD_BYTES].encode("utf-8", errors="replace")
    detected = detect_language(filename or "", head)
    if detected != "text":
        return detected
    return "text" if filename else None
