"""Snapshots: a consistent, self-contained, checksummed copy of a live hypercube.

A replica serves a copy of the hypercube, so the copy must be exactly one committed state.
A byte copy of the file is not: in WAL mode the newest commits may still sit in the
``-wal`` file, and a copy taken while a writer checkpoints can tear. SQLite's online backup
API copies page by page inside a read transaction, so the result is one committed state
even while ``serve`` or an ingest keeps writing the source.

The copy is switched from WAL to a rollback journal, so it opens on a read-only mount with
no ``-wal``/``-shm`` beside it, written to a temporary name and renamed into place only when
complete (a kill leaves either no snapshot or the old one), and described by a manifest
beside it (``OUT.json``: BLAKE2b-256 of the file, size, schema version, counts, and the
model's segment files with their sizes). Replicas verify the manifest before serving
(:func:`verify_snapshot`).

The segment files (app/store/segfiles.py) are copied into ``OUT.segments/`` before the new
SQLite file is renamed into place; they are content-addressed, so adding them leaves an older
snapshot there intact, and the files only the older one used are removed after the rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import apsw

from app.errors import StoreError
from app.store.backup import copy_hypercube
from app.store.rows import integer
from app.store.segfiles import (
    SUFFIX,
    file_sha256,
    fsync_dir,
    hash_file,
    referenced_files,
    remove_unreferenced,
    segments_dir,
)


@dataclass(frozen=True)
class SnapshotManifest:
    file: str
    bytes: int
    blake2b: str
    schema_version: int
    documents: int
    vocabulary: int
    created: float
    # The segment files beside it (name -> bytes); each one's name is its SHA-256.
    segments: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def manifest_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".json")


def write_snapshot(source: Path, destination: Path) -> SnapshotManifest:
    """Copy the hypercube at ``source`` to ``destination`` (replacing it atomically) and
    write its manifest. ``source`` may be in use by other processes."""
    if not source.exists():
        raise StoreError(f"no hypercube at {source}")
    if destination.resolve() == source.resolve():
        raise StoreError("the snapshot must be written to another file than its source")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    try:
        copy_hypercube(source, partial, segments_for=destination)
        digest, size = file_digest(partial)
        with contextlib.closing(apsw.Connection(
                str(partial), flags=apsw.SQLITE_OPEN_READONLY)) as conn:
            version = integer(conn, "PRAGMA user_version")
            documents = integer(conn, "SELECT COUNT(*) FROM documents")
            vocabulary = integer(conn, "SELECT COUNT(*) FROM vocabulary")
            files = sorted(referenced_files(conn))
        folder = segments_dir(destination)
        manifest = SnapshotManifest(destination.name, size, digest, version, documents,
                                    vocabulary, time.time(),
                                    {name: (folder / name).stat().st_size for name in files})
        _fsync(partial)
        os.replace(partial, destination)
        fsync_dir(destination.parent)
        _write_atomically(manifest_path(destination), manifest.to_json())
        remove_unreferenced(destination)
        return manifest
    except apsw.Error as exc:
        raise StoreError(f"cannot snapshot {source}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot write the snapshot {destination}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def verify_snapshot(snapshot: Path) -> SnapshotManifest:
    """The manifest of ``snapshot`` once its checksum and size are confirmed.

    Raises:
        StoreError: no manifest, or the file differs from it (corrupted or replaced).
    """
    try:
        data = json.loads(manifest_path(snapshot).read_text("utf-8"))
        manifest = SnapshotManifest(**data)
    except FileNotFoundError as exc:
        raise StoreError(f"{snapshot} has no manifest ({manifest_path(snapshot).name}): "
                         "write snapshots with `hypercube snapshot`") from exc
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the manifest of {snapshot} is not valid: {exc}") from exc
    digest, size = file_digest(snapshot)
    if (digest, size) != (manifest.blake2b, manifest.bytes):
        raise StoreError(f"{snapshot} does not match its manifest (checksum or size differ): "
                         "it is corrupted or was changed after it was written")
    folder = segments_dir(snapshot)
    for name, expected in sorted(manifest.segments.items()):
        path = folder / name
        try:
            intact = path.stat().st_size == expected and file_sha256(path) + SUFFIX == name
        except FileNotFoundError:
            intact = False
        if not intact:
            raise StoreError(f"the segment file {path} of {snapshot} is missing or does not "
                             "match its manifest: it is corrupted or was changed after it "
                             "was written")
    return manifest


def file_digest(path: Path) -> tuple[str, int]:
    """BLAKE2b-256 of a file's bytes and its size."""
    digest = hashlib.blake2b(digest_size=32)
    size = hash_file(path, digest)
    return digest.hexdigest(), size


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, "utf-8")
    _fsync(partial)
    os.replace(partial, path)
