"""Where the files we ship (grammars, UI assets, the default corpus) live at run time.

A wheel carries them under ``app/_data``; a source checkout (and an editable install) keeps
them at the repository root; a Nuitka onefile unpacks them next to the package. We look in
that order so the same code serves all three.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the shipped folder ``name`` (``grammars`` or ``assets``)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped folder {name!r} is missing from this installation")
