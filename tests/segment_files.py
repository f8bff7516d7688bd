"""Helpers for tests that damage segment files or take a hypercube back to blob segments."""

from __future__ import annotations

import json
from pathlib import Path

import apsw

from app.model.storage import DTYPES
from app.store.segfiles import map_segment_file, segments_dir


def connect(db: Path) -> apsw.Connection:
    """A plain connection to ``db`` that waits for a lock as the app's own do: an engine
    loaded just before may still be reading (its project catalog is read in the
    background), and the first connection to a WAL file locks it briefly to recover."""
    conn = apsw.Connection(str(db))
    conn.set_busy_timeout(10_000)
    return conn


def largest_array(db: Path) -> tuple[int, str, Path, int, int]:
    """(segment id, array name, file, offset, bytes) of the largest model array."""
    conn = connect(db)
    try:
        best = None
        for segment_id, name in conn.execute("SELECT id, file FROM model_segments"):
            path = segments_dir(db) / name
            raw = path.read_bytes()
            length = int.from_bytes(raw[12:16], "little")
            for entry in json.loads(raw[32:32 + length])["arrays"]:
                size = entry["count"] * int(entry["dtype"][-1])
                if best is None or size > best[4]:
                    best = (segment_id, entry["name"], path, entry["offset"], size)
    finally:
        conn.close()
    assert best is not None
    return best


def flip_array(db: Path, count: int = 16) -> tuple[int, str]:
    """Invert ``count`` bytes in the middle of the largest array, as a bad sector would."""
    segment_id, name, path, offset, size = largest_array(db)
    raw = bytearray(path.read_bytes())
    at = offset + size // 2
    raw[at:at + count] = bytes(b ^ 0xFF for b in raw[at:at + count])
    path.write_bytes(bytes(raw))
    return segment_id, name


def downgrade_to_blobs(db: Path) -> None:
    """Take a schema-6 hypercube back to schema 5 as an older Hypercube left it: every
    segment's arrays as checksummed blobs in model_segment_arrays, no segment files."""
    conn = connect(db)
    from app.store import checksums
    checksums.register(conn)
    conn.execute("BEGIN")
    conn.execute("""CREATE TABLE model_segment_arrays(
      id INTEGER PRIMARY KEY,
      segment_id INTEGER NOT NULL REFERENCES model_segments(id) ON DELETE CASCADE,
      name TEXT NOT NULL, dtype TEXT NOT NULL, data BLOB NOT NULL, checksum BLOB,
      UNIQUE (segment_id, name)) STRICT""")
    conn.execute("""CREATE TRIGGER model_segment_arrays_checksum AFTER INSERT ON
      model_segment_arrays WHEN NEW.checksum IS NULL BEGIN UPDATE model_segment_arrays SET
      checksum = blob_checksum(NEW.data) WHERE id = NEW.id; END""")
    for segment_id, name, size, header in conn.execute(
            "SELECT id, file, file_bytes, header_checksum FROM model_segments").fetchall():
        arrays = map_segment_file(segments_dir(db), segment_id, name, size, header, DTYPES)
        for array_name, array in arrays.items():
            conn.execute("INSERT INTO model_segment_arrays(segment_id, name, dtype, data,"
                         " checksum) VALUES(?, ?, ?, ?, blob_checksum(?))",
                         (segment_id, array_name, array.dtype.newbyteorder("<").str,
                          array.tobytes(), array.tobytes()))
    for column in ("file", "file_bytes", "header_checksum"):
        conn.execute(f"ALTER TABLE model_segments DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute("COMMIT")
    conn.close()
    import shutil
    shutil.rmtree(segments_dir(db))


def copy_db(source: Path, target: Path) -> Path:
    """``shutil.copy`` of a closed hypercube: its SQLite file and its segment files."""
    import shutil
    target = Path(target)
    if target.is_dir():
        target = target / Path(source).name
    shutil.copy(source, target)
    if segments_dir(source).is_dir():
        shutil.copytree(segments_dir(source), segments_dir(target), dirs_exist_ok=True)
    return target
