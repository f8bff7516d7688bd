"""Guessing a document's language from its name, its shebang and its first bytes.

The guess decides which tree-sitter grammar parses a file; anything we cannot name is
ingested as plain ``text``.
"""

from __future__ import annotations

import re
from pathlib import PurePath

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".cs": "csharp",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp",
    ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp",
    ".md": "markdown", ".markdown": "markdown",
    ".rst": "restructuredtext",
    ".txt": "text",
    ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
    ".html": "html", ".htm": "html", ".css": "css",
    ".sh": "shell", ".bash": "shell",
}

SHEBANGS: dict[str, str] = {
    "python": "python", "python3": "python", "node": "javascript", "deno": "typescript",
    "bash": "shell", "sh": "shell", "zsh": "shell",
}

_SHEBANG = re.compile(rb"^#!\s*(?:/usr/bin/env\s+(?:-S\s+)?)?\S*?([A-Za-z]+)[\d.]*\b")
_CPP_HINTS = re.compile(rb"^\s*(?:template\s*<|namespace\s+\w+|class\s+\w+\s*[:{]|#include\s*<"
                        rb"(?:iostream|vector|string|memory|map)>)", re.MULTILINE)


def detect_language(path: str | PurePath, head: bytes = b"") -> str:
    """Language name for ``path`` whose content starts with ``head``; ``text`` if unknown."""
    suffix = PurePath(path).suffix.lower()
    language = EXTENSIONS.get(suffix)
    # A .h header is C++ as often as C: look for C++-only constructs before choosing.
    if language == "c" and suffix == ".h" and _CPP_HINTS.search(head):
        return "cpp"
    if language:
        return language
    match = _SHEBANG.match(head)
    if match:
        return SHEBANGS.get(match.group(1).decode("ascii").lower(), "text")
    return "text"
