"""Guessing a document's language from its name, its shebang and its first bytes.

The guess decides which tree-sitter grammar parses a file; anything we cannot name is
ingested as plain ``text``. In order: an editor modeline (``-*- mode: python -*-``,
``vim: set ft=go:``) wins, then well-known file names, then the extension (a ``.h`` header is
C++ when it uses C++-only syntax), then the shebang, then the content of files without an
extension (``package main``, ``#include``, ``<?xml``).
"""

from __future__ import annotations

import re
from pathlib import PurePath

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".cs": "csharp", ".csx": "csharp",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".cp": "cpp", ".cppm": "cpp",
    ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp",
    ".tpp": "cpp", ".ixx": "cpp",
    ".md": "markdown", ".markdown": "markdown",
    ".rst": "restructuredtext",
    ".txt": "text",
    ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
    ".html": "html", ".htm": "html", ".css": "css", ".xml": "xml",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
}

FILE_NAMES: dict[str, str] = {
    "SConstruct": "python", "SConscript": "python", "wscript": "python",
    "Jakefile": "javascript",
    "Makefile": "make", "makefile": "make", "GNUmakefile": "make",
    "Dockerfile": "dockerfile",
}

SHEBANGS: dict[str, str] = {
    "python": "python", "python2": "python", "python3": "python", "pypy": "python",
    "pypy3": "python", "node": "javascript", "nodejs": "javascript", "deno": "typescript",
    "bun": "javascript", "ts-node": "typescript", "tsx": "typescript",
    "bash": "shell", "sh": "shell", "zsh": "shell", "dash": "shell", "ksh": "shell",
}

# Names editors use in modelines, mapped to ours.
MODE_NAMES: dict[str, str] = {
    "python": "python", "py": "python", "javascript": "javascript", "js": "javascript",
    "typescript": "typescript", "ts": "typescript", "go": "go", "rust": "rust",
    "java": "java", "c": "c", "c++": "cpp", "cpp": "cpp", "csharp": "csharp", "cs": "csharp",
    "sh": "shell", "shell-script": "shell", "bash": "shell",
}

_SHEBANG = re.compile(
    rb"^#!\s*(?:/usr/bin/env\s+(?:-S\s+)?)?(?:\S*/)?([A-Za-z][\w+-]*?)[\d.]*(?:\s|$)")
_EMACS_MODE = re.compile(rb"-\*-.*?(?:mode:\s*)?([\w+#-]+)\s*;?.*?-\*-", re.IGNORECASE)
_VIM_MODE = re.compile(rb"\bvim?:.*?\b(?:ft|filetype|syntax)=([\w+#-]+)")
_CPP_HINTS = re.compile(
    rb"^\s*(?:template\s*<|namespace\s+\w+|class\s+\w+\s*(?:final\s*)?[:{]|"
    rb"#include\s*<(?:iostream|vector|string|memory|map|algorithm|utility|cstdint|cstddef|"
    rb"cstdio|cstdlib|cstring|functional|array|unordered_map|set|optional|type_traits)>|"
    rb"using\s+namespace\s|(?:public|private|protected)\s*:|extern\s+\"C\\+\\+\")"
    rb"|\bstd::|\w+::\w+\s*\(", re.MULTILINE)
_CONTENT_HINTS: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"^\s*package\s+\w+\s*$", re.MULTILINE), "go"),
    (re.compile(rb"^\s*#\s*include\s*[<\"]", re.MULTILINE), "c"),
    (re.compile(rb"^\s*(?:from\s+[\w.]+\s+import|import\s+[\w.]+\s*$|def\s+\w+\s*\()",
                re.MULTILINE), "python"),
    (re.compile(rb"^\s*<\?xml\b"), "xml"),
)
_MODELINE_BYTES = 512


def _modeline(head: bytes) -> str | None:
    first_lines = head[:_MODELINE_BYTES]
    for pattern in (_EMACS_MODE, _VIM_MODE):
        match = pattern.search(first_lines)
        if match:
            mode = match.group(1).decode("ascii", "replace").lower()
            if mode in MODE_NAMES:
                return MODE_NAMES[mode]
    return None


def detect_language(path: str | PurePath, head: bytes = b"") -> str:
    """Language name for ``path`` whose content starts with ``head``; ``text`` if unknown."""
    pure = PurePath(path)
    from_modeline = _modeline(head)
    if from_modeline:
        return from_modeline
    if pure.name in FILE_NAMES:
        return FILE_NAMES[pure.name]
    suffix = pure.suffix.lower()
    language = EXTENSIONS.get(suffix)
    # A .h header is C++ as often as C: look for C++-only constructs before choosing.
    if language == "c" and suffix == ".h" and _CPP_HINTS.search(head):
        return "cpp"
    if language:
        return language
    match = _SHEBANG.match(head)
    if match:
        return SHEBANGS.get(match.group(1).decode("ascii").lower(), "text")
    if not suffix:
        for pattern, guessed in _CONTENT_HINTS:
            if pattern.search(head):
                if guessed == "c" and _CPP_HINTS.search(head):
                    return "cpp"
                return guessed
    return "text"
