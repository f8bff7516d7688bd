"""Paths that users type, made safe to compare: ``~`` and ``~user`` expanded, symlinks and
``..`` resolved, NUL bytes and unknown users refused with a clear error."""

from __future__ import annotations

from pathlib import Path

from app.errors import InvalidRequest


def resolve_user_path(text: str, *, param: str) -> Path:
    """``text`` as an absolute, resolved path (it need not exist).

    Raises:
        InvalidRequest: a NUL byte, ``~nosuchuser``, or a path the OS cannot resolve.
    """
    if "\x00" in text:
        raise InvalidRequest(f"'{param}' must not contain NUL bytes", param=param)
    try:
        expanded = Path(text).expanduser()
    except RuntimeError as exc:  # ~nosuchuser, or no home folder to expand ~ to
        raise InvalidRequest(f"cannot expand {text!r}: {exc}", param=param) from exc
    try:
        return expanded.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InvalidRequest(f"cannot resolve {text!r}: {exc}", param=param) from exc


def is_within(path: Path, root: Path) -> bool:
    """Whether the resolved ``path`` is ``root`` or inside it."""
    return path == root or root in path.parents
