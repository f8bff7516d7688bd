"""`hypercube snapshot`: one committed state of a live hypercube, checksummed, read-only-ready."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import apsw

from app.store import Store


def _ingest(cli, db: Path, corpus: Path) -> None:
    code, _, err = cli("ingest", "--db", db, corpus)
    assert code == 0, err


def test_a_snapshot_holds_every_commit_even_those_still_in_the_wal(cli, tmp_path: Path,
                                                                   small_corpus: Path) -> None:
    db = tmp_path / "live.db"
    _ingest(cli, db, small_corpus)
    with Store(db) as live:
        # Commits that stay in the -wal file: the open connection blocks the checkpoint a
        # close would run, exactly as a running `serve` does.
        live.conn.execute("PRAGMA wal_autocheckpoint = 0")
        with live.write() as conn:
            conn.execute("DELETE FROM documents WHERE id = (SELECT MIN(id) FROM documents)")
        assert (db.with_name(db.name + "-wal")).stat().st_size > 0
        documents = live.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

        out = tmp_path / "replica" / "snap.db"
        code, stdout, err = cli("snapshot", "--db", db, out, "--json")
        assert code == 0, err
    manifest = json.loads(stdout)
    assert manifest["documents"] == documents
    assert json.loads((tmp_path / "replica" / "snap.db.json").read_text()) == manifest
    # No WAL: the copy opens with nothing beside it (a read-only mount).
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "snap.db", "snap.db.json", "snap.db.segments"]
    with contextlib.closing(apsw.Connection(str(out), flags=apsw.SQLITE_OPEN_READONLY)) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == documents

    code, stdout, err = cli("snapshot", "--verify", out)
    assert code == 0 and "verified" in stdout, err


def test_a_changed_snapshot_fails_verification(cli, tmp_path: Path, small_corpus: Path) -> None:
    db = tmp_path / "live.db"
    _ingest(cli, db, small_corpus)
    out = tmp_path / "snap.db"
    assert cli("snapshot", "--db", db, out)[0] == 0
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    code, _, err = cli("snapshot", "--verify", out)
    assert code == 1 and "does not match its manifest" in err

    (tmp_path / "snap.db.json").unlink()
    code, _, err = cli("snapshot", "--verify", out)
    assert code == 1 and "has no manifest" in err


def test_snapshot_refuses_bad_targets(cli, tmp_path: Path, small_corpus: Path) -> None:
    db = tmp_path / "live.db"
    _ingest(cli, db, small_corpus)
    code, _, err = cli("snapshot", "--db", db, db)
    assert code == 1 and "another file" in err
    code, _, err = cli("snapshot", "--db", tmp_path / "missing.db", tmp_path / "out.db")
    assert code == 1 and "no hypercube" in err
    assert not (tmp_path / "out.db").exists()
