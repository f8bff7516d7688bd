"""``hypercube ingest --workers N``: files prepared in worker processes, the same hypercube."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import apsw
import pytest

from app.errors import HypercubeError
from app.ingest import IngestedDocument, IngestOptions, IngestRun
from app.ingest.prepare import Task
from app.ingest.protocols import Preparer
from app.ingest.workers import CHUNK_BYTES, CHUNK_FILES, chunks
from app.store import Store
from app.tokenizer import Tokenizer
from tests.conftest import REPO, run_hypercube, write_python_corpus
from tests.hypercube_dump import dump


def _project(root: Path) -> Path:
    """Python and JavaScript (and TypeScript) sources with calls, imports and classes, more
    files than one chunk holds, a non-UTF-8 file and a binary one (skipped with reasons)."""
    for language in ("python", "javascript", "typescript"):
        shutil.copytree(REPO / "tests" / "fixtures" / "code" / language, root / language)
    write_python_corpus(root / "generated", files=2 * CHUNK_FILES + 5, lines=30)
    (root / "notes.md").write_text("# Notes\n\nCafé, naïve, 東京 — text too.\n", "utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    return root


def _ingest(db: Path, workers: int, *roots: Path) -> str:
    """The run's summary line, without the time it took."""
    done = run_hypercube("ingest", "-q", "--workers", str(workers), "--db", db, *roots)
    assert done.returncode == 0, done.stderr
    return re.sub(r" in [0-9.]+ s$", "", done.stdout.strip())


def test_two_workers_build_the_same_hypercube_as_one(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    first = _ingest(one, 1, project)
    assert "2 skipped" in first
    assert _ingest(two, 2, project) == first
    baseline = dump(one)
    assert baseline["documents"] and baseline["relations"] and baseline["model_segments"]
    assert dump(two) == baseline

    # A second run over changed files: replacements, unchanged skips and new files all go
    # through the workers too.
    changed = sorted((project / "generated").rglob("*.py"))[:3]
    for path in changed:
        path.write_text(path.read_text("utf-8") + "\ndef added_later(x):\n    return x\n",
                        "utf-8")
    (project / "python" / "extra.py").write_text("import shapes\n\nshapes.area(1)\n", "utf-8")
    assert "1 added, 3 changed" in _ingest(one, 1, project)
    assert "1 added, 3 changed" in _ingest(two, 2, project)
    assert dump(two) == dump(one)


def test_chunks_keep_the_walk_order_and_bound_their_size() -> None:
    tasks = [Task(Path(f"/f{i}"), size, None)
             for i, size in enumerate([10] * (CHUNK_FILES + 3) + [CHUNK_BYTES, 5, 7])]
    cut = chunks(tasks)
    assert [t for chunk in cut for t in chunk] == tasks
    assert [len(chunk) for chunk in cut] == [CHUNK_FILES, 4, 2]
    assert chunks([]) == []


def _exit_in_a_worker(path: str, text: str, language: str) -> None:
    """A preparer whose process dies, as an out-of-memory kill would end it."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)


class _DyingAnalyzer:
    name = "dies"

    @property
    def preparer(self) -> Preparer:
        return _exit_in_a_worker

    def analyze(self, conn: apsw.Connection, doc: IngestedDocument,
                tokenizer: Tokenizer) -> None:
        pass

    def forget(self, conn: apsw.Connection, doc_ids: Sequence[int]) -> None:
        pass


def test_a_dead_worker_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_python_corpus(corpus, files=2 * CHUNK_FILES + 1, lines=10)
    with Store(tmp_path / "h.db") as store:
        with pytest.raises(HypercubeError, match="worker process died"):
            IngestRun(store, IngestOptions(roots=[corpus], workers=2),
                      analyzers=[_DyingAnalyzer()]).run()
        assert store.conn.execute("SELECT status FROM runs").fetchall() == [("failed",)]
        assert store.conn.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)
