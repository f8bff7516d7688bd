"""Finding the files an ingest takes: folders walked in a stable order, ``.gitignore``
honoured at every level, binary and oversized files skipped with a reason."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache",
                                 ".ruff_cache", ".pytest_cache", ".tox", ".venv", "node_modules"})
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Candidate:
    path: Path
    size: int


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def walk(roots: Sequence[Path], max_file_size: int) -> Iterator[Candidate | Skipped]:
    """Yield every file under ``roots`` in sorted order, as a candidate or with a skip reason."""
    seen: set[Path] = set()
    for root in roots:
        root = root.resolve()
        if not root.exists():
            yield Skipped(root, "does not exist")
        elif root.is_file():
            yield from _check(root, max_file_size, seen)
        else:
            yield from _walk_dir(root, max_file_size, seen)


def _walk_dir(root: Path, max_file_size: int, seen: set[Path]) -> Iterator[Candidate | Skipped]:
    # Inside a git work tree, the ignore files of the folders above the root apply too.
    specs: list[tuple[Path, pathspec.PathSpec]] = []
    top = next((a for a in root.parents if (a / ".git").exists()), None)
    if top is not None:
        for folder in reversed(root.parents):  # outermost first, as git reads them
            if folder == top or top in folder.parents:
                spec = _load_gitignore(folder)
                if spec is not None:
                    specs.append((folder, spec))
    if _ignored(root, True, specs):
        # The user named a folder their repository ignores: they want it, so only the
        # ignore files inside it apply.
        specs = []
    yield from _walk_level(root, specs, max_file_size, seen)


def _walk_level(directory: Path, specs: list[tuple[Path, pathspec.PathSpec]],
                max_file_size: int, seen: set[Path]) -> Iterator[Candidate | Skipped]:
    own = _load_gitignore(directory)
    if own is not None:
        specs = [*specs, (directory, own)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        yield Skipped(directory, f"cannot read folder: {exc.strerror}")
        return
    for entry in entries:
        path = Path(entry.path)
        is_dir = entry.is_dir(follow_symlinks=False)
        if _ignored(path, is_dir, specs):
            continue
        if is_dir:
            if entry.name not in ALWAYS_SKIPPED_DIRS:
                yield from _walk_level(path, specs, max_file_size, seen)
        elif entry.is_file():
            yield from _check(path, max_file_size, seen)


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    ignored = False
    for base, spec in specs:
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            continue
        # Later (deeper) files override earlier ones, including negations, as git does.
        result = spec.check_file(relative + ("/" if is_dir else ""))
        if result.include is not None:
            ignored = result.include
    return ignored


def _load_gitignore(directory: Path) -> pathspec.PathSpec | None:
    ignore_file = directory / ".gitignore"
    try:
        lines = ignore_file.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _check(path: Path, max_file_size: int, seen: set[Path]) -> Iterator[Candidate | Skipped]:
    real = path.resolve()
    if real in seen:
        return
    seen.add(real)
    try:
        size = real.stat().st_size
        with real.open("rb") as handle:
            head = handle.read(BINARY_SNIFF_BYTES)
    except OSError as exc:
        yield Skipped(path, f"cannot read: {exc.strerror}")
        return
    if size > max_file_size:
        yield Skipped(path, f"larger than {max_file_size / 1e6:g} MB (see --max-file-size)")
    elif b"\x00" in head:
        yield Skipped(path, "binary file")
    else:
        yield Candidate(real, size)
