"""The store: migrations, transactions, and the checks `db check` runs."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from app.errors import SchemaTooNew
from app.store import Store, latest_version
from app.store.inspect import check


def test_new_file_is_migrated_to_latest_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        assert store.schema_version == latest_version() >= 1
        assert store.scalar("PRAGMA journal_mode") == "wal"
        tables = {row[0] for row in store.conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"atoms", "compositions", "composition_children", "vocabulary", "documents",
            "document_tokens", "relations", "runs", "meta"} <= tables


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with Store(path) as store:
        store.conn.execute("INSERT INTO meta(key, value) VALUES('k', 'v')")
    with Store(path) as store:
        assert store.get_meta("k") == "v"


def test_a_file_from_a_newer_hypercube_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    Store(path).close()
    conn = apsw.Connection(str(path))
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade Hypercube"):
        Store(path)


def test_write_rolls_back_whole_on_error(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        with pytest.raises(RuntimeError), store.write() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES('a', '1')")
            raise RuntimeError("boom")
        assert store.get_meta("a") is None


def test_check_finds_a_tampered_composition(tmp_path: Path, small_corpus: Path) -> None:
    from app.ingest import IngestOptions, IngestRun

    with Store(tmp_path / "h.db") as store:
        IngestRun(store, IngestOptions(roots=[small_corpus])).run()
        assert [f for f in check(store) if f.severity == "error"] == []
        store.conn.execute(
            "UPDATE compositions SET content = X'00' WHERE id = "
            "(SELECT id FROM compositions WHERE tag = 'pair' LIMIT 1)")
        errors = [f.message for f in check(store) if f.severity == "error"]
    assert len(errors) >= 1
    assert any("content differs" in message for message in errors)
