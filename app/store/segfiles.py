"""Segment files: the model's arrays, one content-addressed file per segment, mapped at load.

A hypercube ``h.db`` keeps its model segments' arrays in the folder beside it,
``h.db.segments/``, one file ``<sha256>.seg`` per segment (the SHA-256 of the whole file is
its name). The SQLite row of a segment (``model_segments.file``) names the file and records
its size and the checksum of its header; nothing else in the hypercube lives outside the
SQLite file.

Layout (every integer little-endian)::

    0   8 bytes  magic b"HCUBESEG"
    8   u32      format version (1)
    12  u32      length L of the JSON header that follows
    16  16 bytes BLAKE2b-128 of the JSON header
    32  L bytes  JSON: {"arrays": [{"name", "dtype", "offset", "count", "checksum"}, ...]}
    ... each array's bytes at its offset, a multiple of 64 (zero padding between)

Why files: SQLite hands a blob over by copying it, so a model in blobs costs its whole size in
memory and time at every start. A file is mapped read-only (``mmap`` + ``np.frombuffer``):
start-up is constant-time, and the resident memory is only the pages queries touch (shared
with the page cache and with every other server mapping the same file). Mapping read-only
writes nothing, so a server still starts on a read-only mount.

Integrity, and what it costs where:

- **At load** (constant time): the file exists, its size is the recorded one, the magic and
  version are right, its header's checksum matches both the header's own copy and the one in
  SQLite, and every array lies inside the file with the dtype the model expects. A truncated
  or replaced file, or a damaged header, is refused (:class:`~app.errors.StoreCorrupt`).
- **In** ``hypercube db check``: every array's bytes against its BLAKE2b in the header, and
  the whole file against its name. That is O(size), so it is not done at every start;
  ``hypercube db repair`` drops the segments it finds damaged and rebuilds them from the
  documents' checksummed token streams.

Durability and kills: a file is written under a temporary name, fsync'd, renamed to its
content address and its folder fsync'd *inside the write transaction that references it,
before it commits*. A kill leaves either an unreferenced file (or a temporary one), collected
by :func:`collect_garbage`, or a committed row whose file is complete. Collection runs under
the write lock (``BEGIN IMMEDIATE``), as writers write their files, so it never removes the
file of a transaction still in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np

from app.errors import StoreCorrupt

MAGIC = b"HCUBESEG"
VERSION = 1
ALIGN = 64
SUFFIX = ".seg"
_PREFIX = struct.Struct("<8sII16s")
_TEMP = ".tmp-"
_CHUNK = 1 << 20


def segments_dir(db_path: str | os.PathLike[str]) -> Path:
    """The folder of the segment files of the hypercube at ``db_path``."""
    path = Path(db_path)
    return path.with_name(path.name + ".segments")


def db_path_of(conn: apsw.Connection) -> Path:
    return Path(conn.db_filename("main"))


def _checksum(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class WrittenFile:
    name: str          # "<sha256>.seg"
    size: int
    header_checksum: bytes


def write_segment_file(folder: Path, arrays: Mapping[str, np.ndarray]) -> WrittenFile:
    """Write ``arrays`` (little-endian, C-contiguous) as one durable segment file in
    ``folder``; the caller references it in a transaction that commits afterwards."""
    little = {name: np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False))
              for name, a in arrays.items()}
    entries: list[dict[str, object]] = []
    # The header's length depends on the offsets, which depend on its length: place the
    # arrays after a generous guess and grow it until it fits.
    start = 4096
    while True:
        offset = start
        entries = []
        for name, a in little.items():
            entries.append({"name": name, "dtype": a.dtype.str, "offset": offset,
                            "count": int(a.size), "checksum": _checksum(
                                a.view(np.uint8).reshape(-1).data).hex()})
            offset = _align(offset + a.nbytes)
        header = json.dumps({"arrays": entries}, separators=(",", ":")).encode()
        if _PREFIX.size + len(header) <= start:
            break
        start = _align(_PREFIX.size + len(header))
    header_checksum = _checksum(header)
    prefix = _PREFIX.pack(MAGIC, VERSION, len(header), header_checksum)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f"{_TEMP}{os.getpid()}-{uuid.uuid4().hex}{SUFFIX}"
    digest = hashlib.sha256()
    try:
        with temp.open("wb") as handle:
            def put(data: bytes | memoryview) -> None:
                handle.write(data)
                digest.update(data)

            put(prefix + header + bytes(start - _PREFIX.size - len(header)))
            position = start
            for entry, a in zip(entries, little.values(), strict=True):
                gap = int(entry["offset"]) - position  # type: ignore[call-overload]
                if gap:
                    put(bytes(gap))
                put(a.view(np.uint8).reshape(-1).data)
                position = int(entry["offset"]) + a.nbytes  # type: ignore[call-overload]
            handle.flush()
            os.fsync(handle.fileno())
        name = digest.hexdigest() + SUFFIX
        os.replace(temp, folder / name)
        fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return WrittenFile(name, position, header_checksum)


def fsync_dir(folder: Path) -> None:
    """Make a rename or an unlink in ``folder`` durable (a no-op where folders cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _label(segment_id: int) -> str:
    return f"model segment {segment_id}"


def _damaged(segment_id: int, what: str) -> StoreCorrupt:
    return StoreCorrupt(
        f"the hypercube is damaged: {_label(segment_id)} {what}, so the model is not loaded;"
        " `hypercube db check` lists every damaged part, and `hypercube db repair` rebuilds "
        "damaged model segments from the documents")


def _parse_header(buffer: bytes | mmap.mmap, size: int) -> tuple[bytes, list[dict]] | str:
    """(header checksum, array entries), or what is wrong with the file's header."""
    if size < _PREFIX.size:
        return "is shorter than its header"
    magic, version, length, checksum = _PREFIX.unpack(buffer[:_PREFIX.size])
    if magic != MAGIC:
        return "is not a segment file (bad magic)"
    if version != VERSION:
        return f"has format version {version}, not {VERSION}"
    if _PREFIX.size + length > size:
        return "is shorter than its header"
    header = bytes(buffer[_PREFIX.size:_PREFIX.size + length])
    if _checksum(header) != checksum:
        return "has a header that does not match its checksum"
    try:
        entries = json.loads(header)["arrays"]
    except (ValueError, KeyError, TypeError):
        return "has a header that cannot be read"
    for entry in entries:
        end = int(entry["offset"]) + int(entry["count"]) * np.dtype(entry["dtype"]).itemsize
        if int(entry["offset"]) % ALIGN or end > size:
            return f"has array {entry['name']!r} outside the file (truncated?)"
    return checksum, entries


def map_segment_file(folder: Path, segment_id: int, name: str, size: int,
                     header_checksum: bytes,
                     expected: Mapping[str, np.dtype]) -> dict[str, np.ndarray]:
    """The arrays of a segment file, mapped read-only (native byte order), after the
    constant-time checks (see the module docstring).

    Raises:
        StoreCorrupt: the file is missing, truncated, or its header is damaged.
        FileNotFoundError: the file is missing (the caller tells damage from a race).
    """
    path = folder / name
    with path.open("rb") as handle:
        actual = os.fstat(handle.fileno()).st_size
        if actual != size:
            raise _damaged(segment_id, f"file {name} has {actual} bytes, not {size} "
                                       "(truncated or replaced)")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    parsed = _parse_header(mapped, size)
    if isinstance(parsed, str):
        raise _damaged(segment_id, f"file {name} {parsed}")
    checksum, entries = parsed
    if checksum != header_checksum:
        raise _damaged(segment_id, f"file {name} is not the one its row records (header "
                                   "checksum differs)")
    arrays: dict[str, np.ndarray] = {}
    for entry in entries:
        dtype = np.dtype(entry["dtype"])
        want = expected.get(entry["name"])
        if want is None or dtype.newbyteorder("=") != np.dtype(want).newbyteorder("="):
            raise _damaged(segment_id, f"file {name} has an unexpected array "
                                       f"{entry['name']!r} of {dtype}")
        array = np.frombuffer(mapped, dtype=dtype, count=int(entry["count"]),
                              offset=int(entry["offset"]))
        # Native byte order for the kernels (a no-op view on little-endian machines).
        arrays[entry["name"]] = array.astype(dtype.newbyteorder("="), copy=False)
    missing = set(expected) - set(arrays)
    if missing:
        raise _damaged(segment_id, f"file {name} lacks the arrays {sorted(missing)}")
    return arrays


def verify_segment_file(folder: Path, segment_id: int, name: str, size: int,
                        header_checksum: bytes) -> list[str]:
    """Everything wrong with a segment file, reading all of it (``hypercube db check``)."""
    path = folder / name
    label = _label(segment_id)
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        return [f"{label} file {name} is missing"]
    if actual != size:
        return [f"{label} file {name} has {actual} bytes, not {size}: it is truncated or "
                "was replaced"]
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        parsed = _parse_header(mapped, size)
        if isinstance(parsed, str):
            return [f"{label} file {name} {parsed}"]
        checksum, entries = parsed
        problems = []
        if checksum != header_checksum:
            problems.append(f"{label} file {name} is not the one its row records")
        for entry in entries:
            start = int(entry["offset"])
            end = start + int(entry["count"]) * np.dtype(entry["dtype"]).itemsize
            # Read with read(), in chunks: through the map, the whole file would become
            # resident in this process.
            if file_checksum(path, start, end) != bytes.fromhex(entry["checksum"]):
                problems.append(f"{label} array {entry['name']} does not match its checksum:"
                                " the file is damaged")
        if not problems and file_sha256(path) + SUFFIX != name:
            problems.append(f"{label} file {name} does not match its name: the file is "
                            "damaged")
        return problems
    finally:
        mapped.close()


def hash_file(path: Path, digest: Any, start: int = 0, end: int | None = None) -> int:
    """Feed bytes ``start``–``end`` of a file (to its end by default) to ``digest`` a chunk at
    a time; returns how many were read."""
    read = 0
    with path.open("rb") as handle:
        handle.seek(start)
        while end is None or start + read < end:
            want = _CHUNK if end is None else min(_CHUNK, end - start - read)
            chunk = handle.read(want)
            if not chunk:
                break
            digest.update(chunk)
            read += len(chunk)
    return read


def file_checksum(path: Path, start: int, end: int) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    hash_file(path, digest, start, end)
    return digest.digest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    hash_file(path, digest)
    return digest.hexdigest()


def referenced_files(conn: apsw.Connection) -> set[str]:
    if not has_segment_files(conn):
        return set()
    return {name for name, in conn.execute(
        "SELECT file FROM model_segments WHERE file IS NOT NULL")}


def has_segment_files(conn: apsw.Connection) -> bool:
    """Whether the schema keeps segments in files (migration 0006 and later)."""
    return any(row[1] == "file" for row in conn.execute("PRAGMA table_info(model_segments)"))


def collect_garbage(conn: apsw.Connection) -> list[str]:
    """Remove the segment files no row references, and temporary files of killed writers.
    Call inside a write transaction (``BEGIN IMMEDIATE``: no other writer is between writing
    a file and committing its row); returns the names removed."""
    folder = segments_dir(db_path_of(conn))
    if not folder.is_dir():
        return []
    keep = referenced_files(conn)
    removed = []
    for entry in os.scandir(folder):
        if entry.name in keep or not entry.name.endswith(SUFFIX):
            continue
        with contextlib.suppress(OSError):  # a file still mapped where unlink cannot
            os.unlink(entry.path)
            removed.append(entry.name)
    if removed:
        fsync_dir(folder)
    return removed


def copy_segment_files(names: Iterable[str], source_db: Path, target_db: Path) -> None:
    """Copy the named segment files from beside ``source_db`` to beside ``target_db``
    (durably; a file already there with the right name and size is kept).

    Raises:
        FileNotFoundError: one of them is not beside ``source_db``.
    """
    source, target = segments_dir(source_db), segments_dir(target_db)
    names = sorted(names)
    if not names:
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, dst = source / name, target / name
        if dst.exists() and dst.stat().st_size == src.stat().st_size:
            continue
        temp = target / f"{_TEMP}{os.getpid()}-{uuid.uuid4().hex}{SUFFIX}"
        try:
            shutil.copyfile(src, temp)
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, dst)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    fsync_dir(target)


def move_hypercube(partial: Path, final: Path) -> None:
    """Rename a finished hypercube file into place with its segment files: the files first
    (content-addressed, so adding them disturbs no file already at ``final``), then the
    SQLite file, then the files only the old ``final`` referenced are collected."""
    source = segments_dir(partial)
    if source.is_dir():
        target = segments_dir(final)
        target.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(source):
            os.replace(entry.path, target / entry.name)
        fsync_dir(target)
        shutil.rmtree(source, ignore_errors=True)
    os.replace(partial, final)
    fsync_dir(final.parent)
    remove_unreferenced(final)


def remove_unreferenced(db: Path) -> None:
    """:func:`collect_garbage` for a file no one else has open (a finished copy)."""
    conn = apsw.Connection(str(db))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            collect_garbage(conn)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


def remove_hypercube(db: Path) -> None:
    """Remove a hypercube file, its journal files and its segment files (a leftover)."""
    for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"),
                     db.with_name(db.name + "-journal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(segments_dir(db), ignore_errors=True)


# -- migration 0006: blobs to files ---------------------------------------------------------

def move_blobs_to_files(conn: apsw.Connection) -> None:
    """Write every segment still stored as blobs (schema 5) to its file and reference it,
    then drop the blob table (run inside migration 0006's transaction)."""
    folder = segments_dir(db_path_of(conn))
    segment_ids = [sid for sid, in conn.execute("SELECT id FROM model_segments ORDER BY id")]
    for segment_id in segment_ids:
        arrays: dict[str, np.ndarray] = {}
        damaged = False
        for name, dtype, data, checksum in conn.execute(
                "SELECT name, dtype, data, checksum FROM model_segment_arrays"
                " WHERE segment_id = ? ORDER BY id", (segment_id,)):
            if checksum is None or _checksum(data) != checksum:
                damaged = True  # not carried into a file with a fresh checksum: dropped
                break
            arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype))
        if damaged or not arrays:
            conn.execute("DELETE FROM model_segments WHERE id = ?", (segment_id,))
            continue
        written = write_segment_file(folder, arrays)
        conn.execute("UPDATE model_segments SET file = ?, file_bytes = ?, header_checksum = ?"
                     " WHERE id = ?", (written.name, written.size, written.header_checksum,
                                       segment_id))
    conn.execute("DROP TABLE model_segment_arrays")
