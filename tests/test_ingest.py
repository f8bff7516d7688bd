"""Ingestion: gitignore, skips, idempotence, exact replacement, pruning, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import pytest

from app.ingest import IngestOptions, IngestRun
from app.store import Store
from app.store.inspect import check, info
from tests.conftest import REPO, make_root, write_python_corpus


def ingest(db: Path, *roots: Path, prune: bool = False, workers: int = 1):
    """An ingest as `hypercube ingest` runs it: code analysis and model update included."""
    with Store(db) as store:
        return IngestRun(store, IngestOptions(roots=list(roots), prune=prune, workers=workers),
                         analyzers=make_root().analyzers(), listeners=make_root().listeners()).run()


def counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return info(store)["counts"]  # type: ignore[return-value]


def content_state(db: Path) -> list[tuple[str, str, bytes]]:
    """Everything that depends on content: (path, hash, token stream) per document."""
    with Store(db) as store:
        return store.conn.execute(
            "SELECT d.path, d.content_hash, t.tokens FROM documents d "
            "JOIN document_tokens t ON t.doc_id = d.id ORDER BY d.path").fetchall()


def derived_state(db: Path) -> dict[str, object]:
    """What analyzers derived, in forms that do not depend on row ids."""
    with Store(db) as store:
        q = store.conn.execute
        return {
            "relations": sorted(q("SELECT r.kind, r.src, r.dst, r.weight, d.path FROM relations r "
                                  "JOIN documents d ON d.id = r.doc_id").fetchall()),
            "compositions": sorted(q("SELECT id, tag, content FROM compositions").fetchall()),
            "names": sorted(q("SELECT name, node FROM code_names").fetchall()),
            "symbols": sorted(q("SELECT s.qualified_name, s.kind, s.start_line, d.path "
                                "FROM code_symbols s JOIN documents d ON d.id = s.doc_id")
                              .fetchall()),
        }


def test_ingest_stores_documents_with_provenance(tmp_path: Path, small_corpus: Path) -> None:
    summary = ingest(tmp_path / "h.db", small_corpus)
    assert summary.status == "done"
    assert summary.added == 25
    with Store(tmp_path / "h.db") as store:
        rows = store.conn.execute(
            "SELECT path, language, size, n_tokens, run_id, length(content_hash) "
            "FROM documents ORDER BY path").fetchall()
    assert len(rows) == 25
    languages = {Path(p).suffix: lang for p, lang, *_ in rows}
    assert languages == {".py": "python", ".md": "markdown"}
    assert all(size > 0 and n > 0 and run == summary.run_id and h == 64
               for _, _, size, n, run, h in rows)


def test_gitignore_binary_and_oversized_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "src" / "gen").mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n")
    (root / "src" / ".gitignore").write_text("gen/\n")
    (root / "a.py").write_text("print('a')\n")
    (root / "debug.log").write_text("noise\n")
    (root / "keep.log").write_text("kept\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("x = 1\n")
    (root / "src" / "gen" / "made.py").write_text("y = 2\n")
    (root / "src" / "b.py").write_text("print('b')\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "huge.txt").write_text("z" * 3_000_000)
    with Store(tmp_path / "h.db") as store:
        summary = IngestRun(store, IngestOptions(roots=[root], max_file_size=1_000_000)).run()
        paths = sorted(Path(p).relative_to(root).as_posix()
                       for (p,) in store.conn.execute("SELECT path FROM documents"))
    assert paths == [".gitignore", "a.py", "keep.log", "src/.gitignore", "src/b.py"]
    reasons = {s.path.name: s.reason for s in summary.skipped}
    assert reasons["image.png"] == "binary file"
    assert reasons["latin1.txt"].startswith("not UTF-8 text")
    assert reasons["huge.txt"].startswith("larger than 1 MB")


def test_a_named_folder_that_its_repository_ignores_is_ingested(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("out/\n*.tmp\n")
    data = repo / "out" / "data"
    data.mkdir(parents=True)
    (data / "kept.py").write_text("x = 1\n")
    (data / ".gitignore").write_text("skip.py\n")
    (data / "skip.py").write_text("y = 2\n")
    (repo / "other.tmp").write_text("noise\n")
    with Store(tmp_path / "h.db") as store:
        IngestRun(store, IngestOptions(roots=[data])).run()
        names = sorted(Path(p).name for (p,) in store.conn.execute("SELECT path FROM documents"))
    assert names == [".gitignore", "kept.py"]


def test_reingesting_an_unchanged_tree_changes_nothing(tmp_path: Path,
                                                       small_corpus: Path) -> None:
    db = tmp_path / "h.db"
    ingest(db, small_corpus)
    before, state = counts(db), content_state(db)
    summary = ingest(db, small_corpus)
    assert (summary.added, summary.changed, summary.unchanged) == (0, 0, 25)
    assert counts(db) == before
    assert content_state(db) == state


def test_a_changed_file_replaces_its_old_contribution_exactly(tmp_path: Path,
                                                              small_corpus: Path) -> None:
    db = tmp_path / "h.db"
    ingest(db, small_corpus)
    target = sorted(small_corpus.rglob("*.py"))[3]
    # Rename every definition and call (so the old names lose their last use) and add one.
    renamed = target.read_text().replace("def ", "def renamed_").replace("total", "summed")
    target.write_text(renamed + "\ndef appended():\n    return renamed_x(42)\n")
    summary = ingest(db, small_corpus)
    assert (summary.added, summary.changed, summary.unchanged) == (0, 1, 24)
    # A hypercube built from the final tree directly, with the same vocabulary, must match.
    fresh = tmp_path / "fresh.db"
    _copy_vocabulary(db, fresh)
    ingest(fresh, small_corpus)
    assert counts(fresh) == counts(db)
    assert content_state(fresh) == content_state(db)
    assert derived_state(fresh) == derived_state(db)


def test_prune_removes_documents_of_deleted_files(tmp_path: Path, small_corpus: Path) -> None:
    db = tmp_path / "h.db"
    ingest(db, small_corpus)
    gone = sorted(small_corpus.rglob("*.py"))[:2]
    for path in gone:
        path.unlink()
    kept = ingest(db, small_corpus)
    assert kept.removed == 0 and counts(db)["documents"] == 25
    pruned = ingest(db, small_corpus, prune=True)
    assert pruned.removed == 2
    assert counts(db)["documents"] == 23
    fresh = tmp_path / "fresh.db"
    _copy_vocabulary(db, fresh)
    ingest(fresh, small_corpus)
    assert derived_state(fresh) == derived_state(db)
    assert not {str(p) for p in gone} & {p for p, _, _ in content_state(db)}


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_ingest_leaves_a_consistent_file_that_resumes(tmp_path: Path,
                                                                    workers: int) -> None:
    corpus = tmp_path / "big"
    write_python_corpus(corpus, files=900, lines=60)
    db = tmp_path / "killed.db"
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "app", "ingest", "-q", "--workers", str(workers),
             "--db", str(db), str(corpus)],
            cwd=REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            documents = _wait_for_documents(db, child, log)
            helpers = _children(child.pid)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert 0 < documents < 900, "the kill must land in the middle of the run"
    if workers > 1:
        # The workers were preparing files when their writer was killed: they leave too.
        assert len(helpers) > workers  # the workers and multiprocessing's resource tracker
        _wait_until_gone(helpers)
    with Store(db) as store:
        assert [f for f in check(store) if f.severity == "error"] == []
        statuses = [s for (s,) in store.conn.execute("SELECT status FROM runs")]
    assert statuses == ["interrupted"]  # its process is gone: marked so on the first open
    resumed = ingest(db, corpus, workers=workers)
    assert resumed.unchanged >= documents and resumed.added == 900 - resumed.unchanged
    uninterrupted = tmp_path / "whole.db"
    ingest(uninterrupted, corpus)
    assert counts(db) == counts(uninterrupted)
    assert content_state(db) == content_state(uninterrupted)
    assert derived_state(db) == derived_state(uninterrupted)
    with Store(db) as store:
        statuses = [s for (s,) in store.conn.execute("SELECT status FROM runs ORDER BY id")]
        assert [f for f in check(store) if f.severity == "error"] == []
    assert statuses == ["interrupted", "done"]


def _wait_for_documents(db: Path, child: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert child.poll() is None, log.read_text()
        if db.exists():
            try:
                conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
                conn.set_busy_timeout(1000)
                found = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
                conn.close()
            except apsw.Error:
                found = 0
            if found:
                return found
        time.sleep(0.005)
    raise AssertionError("ingest stored nothing within two minutes")


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: Linux, where the tests run)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_until_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":  # a zombie has exited; only its parent's wait is missing
                alive.append(pid)
        if not alive:
            return
        time.sleep(0.01)
    raise AssertionError(f"processes {alive} outlived the killed ingest")


def _copy_vocabulary(source: Path, target: Path) -> None:
    with Store(target) as store:
        store.conn.execute(f"ATTACH DATABASE {json.dumps(str(source))} AS src")
        with store.write() as conn:
            for table in ("atoms", "compositions", "composition_children", "vocabulary"):
                conn.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
        store.conn.execute("DETACH DATABASE src")
