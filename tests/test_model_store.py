"""The stored model follows the documents exactly: segments per run, rebuilds, merges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.errors import NotReady
from app.ingest import IngestOptions, IngestRun
from app.model import Model, build_segment
from app.model.loading import load_model
from app.model.maintain import MAX_SEGMENTS, model_is_current, plan_update, update_model
from app.model.repair import repair_model
from app.model.storage import load_segments
from app.store import Store
from jit import kernels
from tests.conftest import make_root

from .conftest import write_python_corpus


def _ingest(store: Store, root: Path, *, listeners: bool = True, prune: bool = False) -> None:
    IngestRun(store, IngestOptions(roots=[root], prune=prune),
              listeners=make_root().listeners() if listeners else []).run()


def _segment_docs(store: Store) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for doc_id, sid in store.conn.execute("SELECT doc_id, segment_id FROM model_segment_docs"):
        out.setdefault(sid, set()).add(doc_id)
    return out


def _documents(store: Store) -> set[int]:
    return {d for d, in store.conn.execute("SELECT id FROM documents")}


def _assert_current(store: Store) -> None:
    with store.snapshot() as conn:
        assert not plan_update(conn).needed and model_is_current(conn)
    covered = set().union(*_segment_docs(store).values())
    assert covered == _documents(store)


def _assert_equals_fresh_build(store: Store) -> None:
    """The incrementally maintained model predicts exactly like one built from scratch."""
    model = load_model(store, kernels())
    streams = [np.frombuffer(blob, dtype="<u2") for blob, in store.conn.execute(
        "SELECT tokens FROM document_tokens ORDER BY doc_id")]
    fresh = Model([build_segment(streams, model.vocab_size)], model.params, model.vocab_size,
                  kernels())
    a, b = model.session(), fresh.session()
    for token in streams[0][:200].tolist():
        assert np.array_equal(a.distribution(), b.distribution())
        a.push(token)
        b.push(token)


def test_each_run_adds_a_segment_and_changes_rebuild_only_theirs(tmp_path: Path) -> None:
    root = tmp_path / "src"
    files = write_python_corpus(root, files=12, seed=1)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root)
        _assert_current(store)
        (first_segment,) = _segment_docs(store)

        more = tmp_path / "more"
        write_python_corpus(more, files=5, seed=2)
        _ingest(store, more)
        _assert_current(store)
        segments = _segment_docs(store)
        assert len(segments) == 2 and first_segment in segments  # the first was kept

        files[0].write_text("def changed():\n    return 42\n", encoding="utf-8")
        _ingest(store, root)
        _assert_current(store)
        assert first_segment not in _segment_docs(store)  # its document was replaced

        files[1].unlink()
        _ingest(store, root, prune=True)
        _assert_current(store)
        _assert_equals_fresh_build(store)


def _files_state(db: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of the hypercube file and its WAL: what any write would move."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns)
            for p in (db, db.with_name(db.name + "-wal")) if p.exists()}


def _killed_update(tmp_path: Path, store: Store) -> None:
    """A hypercube whose last run committed documents but died before the model update."""
    root = tmp_path / "src"
    write_python_corpus(root, files=10, seed=3)
    _ingest(store, root)
    extra = tmp_path / "extra"
    write_python_corpus(extra, files=3, seed=4)
    _ingest(store, extra, listeners=False)
    with store.snapshot() as conn:
        assert plan_update(conn).needed and not model_is_current(conn)


def test_a_stale_model_is_refused_on_load_without_writing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with Store(db) as store:
        _killed_update(tmp_path, store)
        version = store.scalar("PRAGMA data_version")
        before = _files_state(db)
        with Store(db, readonly=True) as reader, pytest.raises(NotReady) as refused:
            load_model(reader, kernels())
        assert "hypercube db repair" in str(refused.value)
        with pytest.raises(NotReady, match="db repair"):
            load_model(store, kernels())   # a writable store is not written either
        # data_version moves when another connection commits; ours committed nothing.
        assert store.scalar("PRAGMA data_version") == version
        assert _files_state(db) == before
        with store.snapshot() as conn:
            assert plan_update(conn).needed


def test_db_repair_completes_a_killed_update_and_is_idempotent(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        _killed_update(tmp_path, store)
        done = repair_model(store, kernels())
        assert any("built 1 model segment(s) indexing 3 document(s)" in line for line in done)
        _assert_current(store)
        model = load_model(store, kernels())
        assert model.tokens == sum(n for n, in store.conn.execute(
            "SELECT n_tokens FROM documents"))
        version = store.conn.total_changes()
        assert repair_model(store, kernels()) == []    # nothing stale: nothing written
        assert store.conn.total_changes() == version
        _assert_equals_fresh_build(store)


def test_the_next_ingest_run_completes_a_killed_update(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        _killed_update(tmp_path, store)
        _ingest(store, tmp_path / "extra")    # nothing changed on disk: only the model
        _assert_current(store)
        load_model(store, kernels())


def test_segments_are_merged_beyond_the_limit(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        for run in range(MAX_SEGMENTS + 2):
            root = tmp_path / f"run{run}"
            write_python_corpus(root, files=3, seed=10 + run, lines=10 + 5 * run)
            _ingest(store, root)
            assert len(_segment_docs(store)) <= MAX_SEGMENTS
        _assert_current(store)
        _assert_equals_fresh_build(store)


def _segment_tokens(store: Store) -> list[int]:
    return [n for n, in store.conn.execute("SELECT tokens FROM model_segments ORDER BY id")]


def test_a_capped_family_is_several_segments_predicting_as_one(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write_python_corpus(root, files=16, seed=21, lines=30)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root, listeners=False)
        corpus = sum(n for n, in store.conn.execute("SELECT n_tokens FROM documents"))
        cap = corpus // 5
        report = update_model(store, kernels(), segment_tokens=cap)
        sizes = _segment_tokens(store)
        # Every segment within the cap (documents are far smaller than it), at least five.
        assert len(sizes) >= 5 and report.segments_built == len(sizes)
        assert max(sizes) <= cap and sum(sizes) == corpus
        _assert_current(store)
        _assert_equals_fresh_build(store)
        # Full segments are not merged again: another run adds one segment, rebuilds none.
        more = tmp_path / "more"
        write_python_corpus(more, files=2, seed=22, lines=10)
        _ingest(store, more, listeners=False)
        update_model(store, kernels(), segment_tokens=cap)
        assert _segment_tokens(store)[:len(sizes)] == sizes
        assert len(_segment_tokens(store)) == len(sizes) + 1
        _assert_current(store)
        _assert_equals_fresh_build(store)


def test_an_update_killed_between_segments_is_completed_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "src"
    write_python_corpus(root, files=12, seed=23, lines=30)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root, listeners=False)
        corpus = sum(n for n, in store.conn.execute("SELECT n_tokens FROM documents"))
        built: list[int] = []

        def dies_on_the_third(streams, vocab_size, doc_ids=()):  # type: ignore[no-untyped-def]
            if len(built) == 2:
                raise KeyboardInterrupt   # as a kill would, between two commits
            built.append(len(doc_ids))
            return build_segment(streams, vocab_size, doc_ids)

        monkeypatch.setattr("app.model.maintain.build_segment", dies_on_the_third)
        with pytest.raises(KeyboardInterrupt):
            update_model(store, kernels(), segment_tokens=corpus // 4)
        monkeypatch.undo()
        assert len(_segment_tokens(store)) == 2        # the two built ones were committed
        with pytest.raises(NotReady):
            load_model(store, kernels())               # and the model is stale until…
        update_model(store, kernels(), segment_tokens=corpus // 4)
        assert len(_segment_tokens(store)) >= 4
        _assert_current(store)
        _assert_equals_fresh_build(store)


def test_segments_round_trip_through_the_file(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write_python_corpus(root, files=6, seed=5)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root)
        (stored,) = load_segments(store.conn, load_model(store, kernels()).vocab_size)
        streams = [np.frombuffer(blob, dtype="<u2") for blob, in store.conn.execute(
            "SELECT tokens FROM document_tokens ORDER BY doc_id")]
        rebuilt = build_segment(streams, stored.vocab_size)
        for name in ("r", "sa", "nxt", "first", "rowkey", "rowoff", "rowtok", "rowcnt",
                     "unigram"):
            assert np.array_equal(getattr(stored, name), getattr(rebuilt, name)), name
        params = store.conn.execute("SELECT heldout_tokens FROM model_params").fetchone()
        assert params is not None


def test_removing_every_document_empties_the_model(tmp_path: Path) -> None:
    root = tmp_path / "src"
    files = write_python_corpus(root, files=4, seed=6)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root)
        for path in files:
            path.unlink()
        (root / "keep.txt").write_text("only this\n", encoding="utf-8")
        _ingest(store, root, prune=True)
        _assert_current(store)
        assert len(_documents(store)) == 1


@pytest.mark.parametrize("count", [1])
def test_single_tiny_document(tmp_path: Path, count: int) -> None:
    root = tmp_path / "src"
    root.mkdir()
    for i in range(count):
        (root / f"f{i}.py").write_text("x = 1\n", encoding="utf-8")
    with Store(tmp_path / "h.db") as store:
        _ingest(store, root)
        model = load_model(store, kernels())
        session = model.session()
        probs = session.distribution()
        assert abs(probs.sum() - 1) < 1e-12 and (probs > 0).all()


def test_project_groups_are_first_folders_below_the_common_root() -> None:
    from app.model.maintain import project_groups

    paths = ["/r/a/x.py", "/r/a/b/y.py", "/r/top.py", "/r/c/z.py"]
    assert project_groups(paths) == ["a", "a", None, "c"]
    assert project_groups([]) == []
