"""The embedded default hypercube, so a fresh install answers without any ingesting.

It holds the starter corpus shipped in ``assets/corpus`` (an archive of part of the Python
standard library). The archive is unpacked into the user data folder, where the code pages can
open its files, next to a hypercube file whose name changes whenever the corpus, the schema or
Hypercube's version does.

Where that file comes from:

- **Shipped prebuilt** (the single executable): the build ingests the corpus once
  (:func:`build_prebuilt`) and ships the result in ``app/_data/prebuilt``. A first start copies
  it and re-roots its document paths at the unpacked corpus — no ingest, no model build.
- **Built on first use** (a source or wheel install, or an executable whose prebuilt file is
  for another fingerprint): the unpacked corpus is ingested as ``hypercube ingest`` would.

Either way the file is written under a temporary name and renamed into place, so an
interrupted start is simply redone, and a file lock keeps two processes from doing it at once.
Its model segment files (app/store/segfiles.py) sit beside it in ``NAME.segments/``, in the
shipped folder as in the user data folder: one format whatever the hypercube's size.

Paths: documents store absolute paths (``documents.path``), and each run its roots
(``runs.roots``); no other column holds one (see ``app/store/migrations``). The prebuilt file
stores them under :data:`CORPUS_PLACEHOLDER` instead of the build machine's folder, so it
carries no trace of where it was built and is re-rooted wherever it is unpacked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath
from typing import cast

import filelock

from app import __version__
from app.ingest import Analyzer, IngestOptions, IngestRun, Progress, RunListener
from app.resources import data_dir
from app.store import Store, latest_version
from app.store.backup import copy_hypercube
from app.store.segfiles import move_hypercube, remove_hypercube

# The shipped folder (see app.resources.data_dir) an executable carries its prebuilt file in.
PREBUILT_FOLDER = "prebuilt"
# Where the prebuilt file's paths are rooted: never a real path on any platform.
CORPUS_PLACEHOLDER = "<starter-corpus>"


def starter_archives() -> list[Path]:
    return sorted((data_dir("assets") / "corpus").glob("*.tar.xz"))


def fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{__version__}/{latest_version()}".encode())
    for archive in starter_archives():
        digest.update(archive.read_bytes())
    return digest.hexdigest()


def default_file_name() -> str:
    return f"default-{fingerprint()}.hypercube"


def default_hypercube_path(user_data_dir: Path) -> Path:
    """Where the default hypercube of this fingerprint lives in the user data folder."""
    return user_data_dir / default_file_name()


def shipped_prebuilt(folder: Path | None = None) -> Path | None:
    """The prebuilt default hypercube for this fingerprint, if there is one.

    Args:
        folder: where to look; by default the folder this installation ships
            (``app/_data/prebuilt`` in the executable; a source checkout has none).
    """
    if folder is None:
        try:
            folder = data_dir(PREBUILT_FOLDER)
        except FileNotFoundError:
            return None
    candidate = folder / default_file_name()
    return candidate if candidate.is_file() else None


def ensure_default_hypercube(user_data_dir: Path, analyzers: list[Analyzer],
                             listeners: list[RunListener],
                             on_progress: Callable[[Progress], None] | None = None, *,
                             prebuilt_folder: Path | None = None) -> Path:
    """Path of the default hypercube, making it first if this install has none yet.

    Args:
        user_data_dir: the user data folder it lives in.
        analyzers: what the build's ingest runs (see :meth:`app.compose.Root.analyzers`).
        listeners: what the build's ingest notifies (the model's updater).
        on_progress: called as the ingest goes, when the file has to be built.
        prebuilt_folder: where a prebuilt file may be (see :func:`shipped_prebuilt`).
    """
    path = default_hypercube_path(user_data_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".build.lock"):
        if path.exists():
            return path
        corpus = _unpack(path.with_suffix(".corpus")).resolve()
        partial = path.with_name(path.name + ".partial")
        _remove_leftovers(partial)
        prebuilt = shipped_prebuilt(prebuilt_folder)
        if prebuilt is not None:
            copy_hypercube(prebuilt, partial)
            with Store(partial) as store:
                _reroot(store, lambda p: _from_placeholder(p, corpus))
                _finish(store)
        else:
            with Store(partial) as store:
                IngestRun(store, IngestOptions(roots=[corpus]),
                          analyzers=analyzers, listeners=listeners, on_progress=on_progress).run()
                _finish(store)
        move_hypercube(partial, path)
        _remove_leftovers(partial)  # the ingest's lock file
    return path


def build_prebuilt(folder: Path, ensure_default: Callable[..., Path]) -> Path:
    """The default hypercube made ready to ship in ``folder``: built as a first start builds
    it (``ensure_default``, :meth:`app.compose.Root.ensure_default_hypercube`, or reused from
    this machine's data folder), its paths rooted at the placeholder. Other fingerprints'
    files in ``folder`` are removed."""
    target = folder / default_file_name()
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("default-*.hypercube*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    source = ensure_default(prebuilt_folder=folder)  # folder has none: it builds
    corpus = source.with_suffix(".corpus").resolve()
    partial = target.with_name(target.name + ".partial")
    copy_hypercube(source, partial)
    with Store(partial) as store:
        _reroot(store, lambda p: _to_placeholder(p, corpus))
        store.conn.execute("VACUUM")  # the old paths would linger in free pages
        _finish(store)
    move_hypercube(partial, target)
    _remove_leftovers(partial)
    return target


def _to_placeholder(path: str, root: Path) -> str:
    relative = PurePath(path).relative_to(root).as_posix()
    return CORPUS_PLACEHOLDER if relative == "." else f"{CORPUS_PLACEHOLDER}/{relative}"


def _from_placeholder(path: str, root: Path) -> str:
    if path == CORPUS_PLACEHOLDER:
        return str(root)
    prefix = CORPUS_PLACEHOLDER + "/"
    if not path.startswith(prefix):
        raise ValueError(f"not a path of the prebuilt default hypercube: {path!r}")
    return str(root.joinpath(*PurePosixPath(path[len(prefix):]).parts))


def _reroot(store: Store, convert: Callable[[str], str]) -> None:
    """Rewrite every stored path (``documents.path`` and ``runs.roots``) in one transaction."""
    with store.write() as conn:
        for doc_id, path in cast(list[tuple[int, str]], conn.execute(
                "SELECT id, path FROM documents").fetchall()):
            conn.execute("UPDATE documents SET path = ? WHERE id = ?", (convert(path), doc_id))
        for run_id, roots in cast(list[tuple[int, str]], conn.execute(
                "SELECT id, roots FROM runs").fetchall()):
            conn.execute("UPDATE runs SET roots = ? WHERE id = ?",
                         (json.dumps([convert(r) for r in json.loads(roots)]), run_id))


def _finish(store: Store) -> None:
    """Fold the write-ahead log in, leaving one self-contained file to rename or copy."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.conn.execute("PRAGMA journal_mode = DELETE")


def _remove_leftovers(partial: Path) -> None:
    remove_hypercube(partial)
    for leftover in partial.parent.glob(partial.name + "*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def _unpack(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for archive in starter_archives():
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return folder
