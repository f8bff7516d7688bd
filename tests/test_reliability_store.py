"""The hypercube file under faults: damaged blobs, read-only files, crashed runs, copies.

Every test works on a real SQLite file: damage is done to its bytes on disk (as a bad disk
does it), crashes are real SIGKILLs of the real CLI, read-only means a read-only mount (as
root) or folder permissions (as a user).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from app.api import EngineSlot
from app.api.ingest_jobs import IngestManager
from app.cli.serving import load_engine
from app.errors import StoreCorrupt
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from app.store.checksums import CHECKSUMMED
from app.store.inspect import check
from app.store.runs import ingest_lock
from app.store.schema import available_migrations
from app.store.segfiles import segments_dir
from tests.conftest import REPO, make_root, write_python_corpus
from tests.segment_files import connect, downgrade_to_blobs, flip_array, largest_array


def build(db: Path, corpus: Path) -> Path:
    with Store(db) as store:
        summary = IngestRun(store, IngestOptions(roots=[corpus]), analyzers=make_root().analyzers(),
                            listeners=make_root().listeners()).run()
    assert summary.status == "done"
    return db


@pytest.fixture
def hypercube(tmp_path: Path, small_corpus: Path) -> Path:
    return build(tmp_path / "h.db", small_corpus)


def errors_of(store: Store) -> list[str]:
    return [f.message for f in check(store) if f.severity == "error"]


def flip_inside(db: Path, blob: bytes, count: int = 16) -> None:
    """Invert ``count`` bytes in the middle of ``blob`` where it lies in the file, as a bad
    sector would: SQLite's own page structure stays intact."""
    raw = bytearray(db.read_bytes())
    for start in range(len(blob) // 2, len(blob) - 64, 61):
        window = blob[start:start + 64]
        if raw.count(window) == 1:
            at = raw.index(window) + 24
            raw[at:at + count] = bytes(b ^ 0xFF for b in raw[at:at + count])
            db.write_bytes(bytes(raw))
            return
    raise AssertionError("no unique window of the blob found in the file")


# -- 8: checksums ---------------------------------------------------------------------------

def test_a_flipped_model_array_is_named_by_db_check_and_refused_on_load(
        hypercube: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A damaged segment file: content damage is found by `db check` (it reads every array;
    loading stays constant-time), a truncated file or a damaged header is refused on load,
    and `db repair` rebuilds either."""
    with Store(hypercube) as store:
        assert errors_of(store) == []
    segment_id, name, path, _, size = largest_array(hypercube)
    assert size > 4096
    good = path.read_bytes()
    path.write_bytes(good[:-100])  # truncated
    with pytest.raises(StoreCorrupt, match=f"model segment {segment_id} file .*truncated"):
        load_engine(hypercube, make_root().kernels)
    damaged_header = bytearray(good)
    damaged_header[40] ^= 0xFF
    path.write_bytes(bytes(damaged_header))
    with pytest.raises(StoreCorrupt, match=f"model segment {segment_id} file .* header"):
        load_engine(hypercube, make_root().kernels)
    path.write_bytes(good)
    load_engine(hypercube, make_root().kernels)
    flip_array(hypercube)

    with Store(hypercube) as store:
        problems = errors_of(store)
        assert not any(p.startswith("sqlite integrity") for p in problems)  # SQLite sees nothing
    assert problems == [f"model segment {segment_id} array {name} does not match its checksum:"
                        " the file is damaged"]
    code, out, _ = cli("db", "check", "--db", hypercube)
    assert code == 1
    assert f"model segment {segment_id} array {name} does not match its checksum" in out

    code, out, _ = cli("db", "repair", "--db", hypercube)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"repaired: dropped damaged model segment {segment_id}"
    assert lines[1].startswith("repaired: built 1 model segment(s) indexing ")
    assert lines[-1] == "ok: the model is up to date"
    # Rebuilt from the documents' token streams.
    engine = load_engine(hypercube, make_root().kernels)
    assert engine.info.id
    # Again: nothing is stale, nothing is done.
    assert cli("db", "repair", "--db", hypercube)[:2] == (
        0, "ok: the model is up to date (nothing to repair)\n")
    code, out, err = cli("db", "repair", "--db", hypercube.with_name("missing.hypercube"))
    assert (code, out) == (1, "") and len(err.strip().splitlines()) == 1, err
    assert "no hypercube at" in err


def test_a_damaged_token_stream_is_found_by_db_check(hypercube: Path) -> None:
    # A token stream's bytes also appear in the model's arrays, so the damage is done to its
    # checksum instead (for the check it is the same: the two no longer agree).
    with Store(hypercube) as store:
        doc_id, path = store.conn.execute(
            "SELECT t.doc_id, d.path FROM document_tokens t JOIN documents d "
            "ON d.id = t.doc_id ORDER BY t.doc_id LIMIT 1").fetchone()
        store.conn.execute("UPDATE document_tokens SET checksum = zeroblob(16) WHERE doc_id = ?",
                           (doc_id,))
    with Store(hypercube) as store:
        assert f"the token stream of document {doc_id} ({path}) does not match its checksum: " \
               "the file is damaged" in errors_of(store)


def test_every_blob_written_has_its_checksum(hypercube: Path) -> None:
    from app.api.jobs.records import ApiRecords

    records = ApiRecords(hypercube)
    try:
        file_id = records.add_file("in.jsonl", "batch", b'{"x": 1}\n')["id"]
        assert records.file_content(file_id) == b'{"x": 1}\n'
    finally:
        records.close()
    with Store(hypercube) as store:
        for table in CHECKSUMMED:
            blob_column = {"document_tokens": "tokens", "model_segment_arrays": "data",
                           "api_files": "content", "code_refs": "sites",
                           "code_fingerprints": "minhash"}[table]
            total, missing = store.conn.execute(
                f"SELECT COUNT(*), COUNT(*) - COUNT(checksum) FROM {table} "
                f"WHERE {blob_column} IS NOT NULL").fetchone()
            assert total > 0 and missing == 0, table


def test_migration_computes_checksums_of_an_existing_file(tmp_path: Path,
                                                          small_corpus: Path) -> None:
    """A file written before migration 0005 gets every checksum when it is first opened,
    and migration 0006 moves its model segments into files."""
    db = build(tmp_path / "h.db", small_corpus)
    downgrade_to_blobs(db)
    conn = connect(db)
    arrays = conn.execute("SELECT COUNT(*) FROM model_segment_arrays").fetchone()[0]
    conn.close()
    assert arrays > 0
    # Take the file back to schema 4 as an older Hypercube left it: same data, no checksums.
    conn = connect(db)
    conn.execute("BEGIN")
    for statement in ("DROP TRIGGER {t}_checksum", "DROP TRIGGER IF EXISTS {t}_checksum_update",
                      "ALTER TABLE {t} DROP COLUMN checksum"):
        for table in [*CHECKSUMMED, "model_segment_arrays"]:
            conn.execute(statement.format(t=table))
    conn.execute("PRAGMA user_version = 4")
    conn.execute("COMMIT")
    conn.close()
    assert [m.version for m in available_migrations()][4] == 5

    with Store(db) as store:
        assert store.schema_version >= 6
        assert store.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name ="
                            " 'model_segment_arrays'") == 0
        files = store.scalar("SELECT COUNT(DISTINCT file) FROM model_segments")
        assert files and len(list(segments_dir(db).iterdir())) == files
        assert errors_of(store) == []
    load_engine(db, make_root().kernels)


# -- 10: read-only files --------------------------------------------------------------------

@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written to: a read-only tmpfs as root (who ignores
    permissions), a folder without write permission otherwise."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        yield folder
        os.chmod(folder, 0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needed to make a folder read-only for "
                    f"root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        for path in folder.iterdir():
            os.chmod(path, 0o444)
        os.chmod(folder, 0o555)
    assert not os.access(folder, os.W_OK)


def test_read_only_commands_work_on_a_read_only_folder(read_only_folder: Path,
                                                       small_corpus: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = build(read_only_folder / "h.db", small_corpus)
    assert not db.with_name("h.db-wal").exists()  # closed cleanly: everything in the file
    make_read_only(read_only_folder)

    code, out, err = cli("db", "info", "--db", db, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["counts"]["documents"] == 25
    code, out, err = cli("db", "check", "--db", db)
    assert (code, out.strip(), err) == (0, "ok", "")
    code, out, err = cli("search", "--db", db, "--json", "total")
    assert code == 0, err
    code, out, err = cli("tokenize", "--db", db, "--json", "return total")
    assert code == 0, err


def test_a_read_only_file_in_a_writable_folder_is_inspected(hypercube: Path, cli) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files anyway; the read-only folder test covers root")
    os.chmod(hypercube, 0o444)
    code, out, err = cli("db", "check", "--db", hypercube)
    assert (code, out.strip()) == (0, "ok"), err


# -- 11: runs killed by a crash -------------------------------------------------------------

def _running_run(db: Path) -> int | None:
    try:
        conn = apsw.Connection(f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY
                               | apsw.SQLITE_OPEN_URI)
        try:
            row = conn.execute("SELECT id FROM runs WHERE status = 'running'").fetchone()
        finally:
            conn.close()
    except apsw.Error:
        return None
    return None if row is None else row[0]


def test_a_run_killed_mid_ingest_is_interrupted_when_opened(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    write_python_corpus(corpus, files=400, lines=200)
    db = tmp_path / "h.db"
    child = subprocess.Popen([sys.executable, "-m", "app", "ingest", "--db", str(db),
                              str(corpus)], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while (run_id := _running_run(db)) is None:
            assert child.poll() is None, "the ingest ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()

    # Listing from a read-only store already tells the truth ...
    manager = IngestManager(db, EngineSlot(), None, make_root().plugins)
    assert manager.run(run_id)["status"] == "interrupted"
    # ... and the first writable open records it.
    code, out, err = cli("db", "info", "--db", db, "--json")
    assert code == 0, err
    assert json.loads(out)["last_run"]["status"] == "interrupted"
    with Store(db, readonly=True) as store:
        assert store.scalar("SELECT status FROM runs WHERE id = ?", (run_id,)) == "interrupted"


def test_a_run_whose_process_lives_stays_running(hypercube: Path) -> None:
    with Store(hypercube) as store, store.write() as conn:
        conn.execute("INSERT INTO runs(started, status, roots) VALUES(0, 'running', '[]')")
        run_id = conn.last_insert_rowid()
    lock = ingest_lock(hypercube)  # held as a live ingest holds it
    with lock:
        with Store(hypercube) as store:
            assert store.scalar("SELECT status FROM runs WHERE id = ?", (run_id,)) == "running"
        manager = IngestManager(hypercube, EngineSlot(), None, make_root().plugins)
        assert manager.run(run_id)["status"] == "running"
    with Store(hypercube) as store:
        assert store.scalar("SELECT status FROM runs WHERE id = ?", (run_id,)) == "interrupted"


# -- 11: copying the default hypercube ------------------------------------------------------

def test_the_default_copy_includes_commits_still_in_the_wal(hypercube: Path, cli,  # type: ignore[no-untyped-def]
                                                            isolated_user_dir: Path) -> None:
    """`hypercube app` copies the default hypercube into the user's; commits not yet
    checkpointed into the main file must be in the copy."""
    import argparse

    from app.cli.app_cmd import app_db_path

    default = make_root().default_hypercube_path
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_bytes(hypercube.read_bytes())  # a closed file: no WAL yet
    shutil.copytree(segments_dir(hypercube), segments_dir(default))
    writer = apsw.Connection(str(default))
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # commits stay in the -wal file
    writer.execute("INSERT INTO meta(key, value) VALUES('only-in-wal', 'yes')")
    try:
        assert Path(str(default) + "-wal").stat().st_size > 0
        copy = app_db_path(argparse.Namespace(db=None, root=make_root()))
    finally:
        writer.close()
    assert copy == isolated_user_dir / "hypercube.db"
    with Store(copy) as store:
        assert store.get_meta("only-in-wal") == "yes"
        assert errors_of(store) == []
