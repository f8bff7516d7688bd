"""The embedded default hypercube, so a fresh install answers without any ingesting.

It is built from the starter corpus shipped in ``assets/corpus`` (an archive of part of the
Python standard library) the first time a command needs it. The archive is unpacked into the
user data folder, where the code pages can open its files, and ingested into a file whose name
changes whenever the corpus, the schema or Hypercube's version does. The build writes a
temporary file and renames it into place, so an interrupted build is simply redone; a file
lock keeps two processes from building at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import filelock

from app import __version__
from app.ingest import IngestOptions, IngestRun, Progress, default_analyzers, default_listeners
from app.resources import data_dir
from app.settings import data_dir as user_data_dir
from app.store import Store, latest_version


def starter_archives() -> list[Path]:
    return sorted((data_dir("assets") / "corpus").glob("*.tar.xz"))


def fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{__version__}/{latest_version()}".encode())
    for archive in starter_archives():
        digest.update(archive.read_bytes())
    return digest.hexdigest()


def default_hypercube_path() -> Path:
    return user_data_dir() / f"default-{fingerprint()}.hypercube"


def ensure_default_hypercube(on_progress: Callable[[Progress], None] | None = None) -> Path:
    """Path of the default hypercube, building it first if this install has none yet."""
    path = default_hypercube_path()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".build.lock"):
        if path.exists():
            return path
        corpus = _unpack(path.with_suffix(".corpus"))
        partial = path.with_name(path.name + ".partial")
        for leftover in path.parent.glob(partial.name + "*"):
            leftover.unlink()
        with Store(partial) as store:
            IngestRun(store, IngestOptions(roots=[corpus]),
                      analyzers=default_analyzers(), listeners=default_listeners(),
                      on_progress=on_progress).run()
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            store.conn.execute("PRAGMA journal_mode = DELETE")
        os.replace(partial, path)
        for leftover in path.parent.glob(partial.name + "*"):
            leftover.unlink()  # the ingest's lock file
    return path


def _unpack(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for archive in starter_archives():
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return folder
