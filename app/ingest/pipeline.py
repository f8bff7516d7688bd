"""An ingest run: walk, read, hash, tokenize and store documents in crash-safe batches.

Each batch of documents is one transaction, so a kill at any moment leaves only whole
documents. A file whose content hash is already stored under its path is skipped; a changed
file's old document (with everything analyzers derived from it) is deleted in the same
transaction that stores the new one, so nothing is ever counted twice. Files are taken in
sorted order, so an interrupted run, re-run, ends exactly where an uninterrupted one would.

Reading, tokenizing and analyzing a file is pure (:mod:`app.ingest.prepare`) and may run in
worker processes (``workers`` > 1, :mod:`app.ingest.workers`); this process stays the one
writer, taking the prepared files in the walk's order and batching them as it always does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import apsw
from filelock import Timeout

from app import geometry
from app.errors import HypercubeError, InvalidRequest, StoreLocked
from app.ingest.prepare import Prepared, Task, Unchanged
from app.ingest.protocols import Analyzer, IngestedDocument, Preparer, RunListener
from app.ingest.walk import Candidate, Skipped, walk
from app.ingest.workers import Executor, Processes, prepared
from app.store import Store
from app.store.checksums import blob_checksum
from app.store.runs import ingest_lock
from app.store.tokens import pack_tokens
from app.tokenizer import (
    DEFAULT_VOCAB_SIZE,
    Tokenizer,
    load_vocabulary,
    save_vocabulary,
    train_vocabulary,
)

log = logging.getLogger("hypercube.ingest")

DEFAULT_MAX_FILE_SIZE = 8_000_000
BATCH_BYTES = 2_000_000
BATCH_FILES = 256
# The vocabulary is learned from at most this much text, taken evenly across the run's files.
TRAINING_SAMPLE_BYTES = 64_000_000
# Seconds to reach a Dask scheduler (--cluster) and for it to have a worker.
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class IngestOptions:
    roots: Sequence[Path]
    prune: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    vocab_size: int = DEFAULT_VOCAB_SIZE
    # Processes that prepare files (1: this one); the result does not depend on it.
    workers: int = 1
    # A Dask scheduler's address (or ``local``/``local:N``) whose workers prepare the files
    # instead (``workers`` is then unused); :mod:`app.ingest.cluster`. CLI only: the server
    # never reaches the network.
    cluster: str | None = None
    cluster_timeout: float = CONNECT_TIMEOUT


@dataclass
class Progress:
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    current: str = ""
    phase: str = "scanning"


@dataclass
class RunSummary:
    run_id: int
    status: str = "running"
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    bytes_ingested: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id, "status": self.status, "added": self.added,
            "changed": self.changed, "unchanged": self.unchanged, "removed": self.removed,
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
            "bytes_ingested": self.bytes_ingested, "seconds": round(self.seconds, 3),
        }


ProgressCallback = Callable[[Progress], None]
SkipCallback = Callable[[Skipped], None]


class IngestRun:
    """One run of ``hypercube ingest`` over a store."""

    def __init__(self, store: Store, options: IngestOptions, *,
                 analyzers: Sequence[Analyzer] = (), listeners: Sequence[RunListener] = (),
                 on_progress: ProgressCallback | None = None,
                 on_skip: SkipCallback | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.store = store
        self.options = options
        self.analyzers = list(analyzers)
        self.listeners = list(listeners)
        self.on_progress = on_progress or (lambda _p: None)
        self.on_skip = on_skip or (lambda _s: None)
        self.cancel = cancel or threading.Event()
        self.progress = Progress()

    def run(self) -> RunSummary:
        lock = ingest_lock(self.store.path)
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise StoreLocked(f"another ingest is running on {self.store.path}") from exc
        try:
            # Connect to the cluster before anything is written: an unreachable one leaves
            # the hypercube untouched.
            with contextlib.closing(self._executor()) as executor:
                return self._run_locked(executor)
        finally:
            lock.release()

    def _executor(self) -> Executor:
        if self.options.cluster is None:
            return Processes(self.options.workers)
        from app.ingest.cluster import DaskCluster  # dask is an optional extra

        return DaskCluster(self.options.cluster, timeout=self.options.cluster_timeout)

    def _mark_ended(self, run_id: int, status: str) -> None:
        """Record that the run stopped early (its whole batches stay stored). If even that
        cannot be written (a full disk), the row stays ``running`` and the next writable open
        marks it ``interrupted``, since this process no longer holds the ingest lock."""
        try:
            with self.store.write() as conn:
                conn.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?"
                             " AND status = 'running'", (status, time.time(), run_id))
        except (HypercubeError, apsw.Error):
            log.warning("could not mark ingest run %s %s", run_id, status)

    # -- the run ------------------------------------------------------------------------

    def _run_locked(self, executor: Executor) -> RunSummary:
        started = time.time()
        with self.store.write() as conn:
            # Any run still marked running was killed: we hold the ingest lock.
            conn.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            conn.execute(
                "INSERT INTO runs(started, status, roots) VALUES(?, 'running', ?)",
                (started, json.dumps([str(r.resolve()) for r in self.options.roots])),
            )
            summary = RunSummary(run_id=conn.last_insert_rowid())
        try:
            return self._ingest(summary, started, executor)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
            self._mark_ended(summary.run_id, "interrupted" if interrupted else "failed")
            raise

    def _ingest(self, summary: RunSummary, started: float,
                executor: Executor) -> RunSummary:
        candidates = self._scan(summary)
        tokenizer = self._tokenizer(candidates)
        known = dict(
            (path, (doc_id, digest)) for path, doc_id, digest in
            self.store.conn.execute("SELECT path, id, content_hash FROM documents")
        )
        self.progress.phase = "ingesting"
        tasks = [Task(c.path, c.size, known.get(str(c.path))) for c in candidates]
        preparers: list[tuple[str, Preparer]] = [
            (a.name, preparer) for a in self.analyzers
            if (preparer := a.preparer) is not None]
        batch: list[Prepared] = []
        batch_bytes = 0
        outcomes = prepared(tasks, tokenizer, preparers, executor)
        with contextlib.closing(outcomes):
            for candidate, outcome in zip(candidates, outcomes, strict=True):
                if self.cancel.is_set():
                    break
                if isinstance(outcome, Skipped):
                    self._skip(outcome, summary)
                elif isinstance(outcome, Unchanged):
                    summary.unchanged += 1
                else:
                    batch.append(outcome)
                    batch_bytes += outcome.size
                self.progress.files_done += 1
                self.progress.bytes_done += candidate.size
                self.progress.current = str(candidate.path)
                if batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_FILES:
                    self._store_batch(batch, tokenizer, summary)
                    batch, batch_bytes = [], 0
                self.on_progress(self.progress)
        if batch and not self.cancel.is_set():
            self._store_batch(batch, tokenizer, summary)
        if self.options.prune and not self.cancel.is_set():
            self._prune({str(c.path) for c in candidates}, summary)
        summary.status = "cancelled" if self.cancel.is_set() else "done"
        summary.seconds = time.time() - started
        self._finish(summary)
        self.progress.phase = summary.status
        self.on_progress(self.progress)
        if summary.status == "done":
            for listener in self.listeners:
                listener.after_run(self.store, summary, executor.build_segment)
        return summary

    def _scan(self, summary: RunSummary) -> list[Candidate]:
        candidates: list[Candidate] = []
        for item in walk(self.options.roots, self.options.max_file_size):
            if isinstance(item, Skipped):
                self._skip(item, summary)
            else:
                candidates.append(item)
        self.progress.files_total = len(candidates)
        self.progress.bytes_total = sum(c.size for c in candidates)
        self.on_progress(self.progress)
        return candidates

    def _skip(self, item: Skipped, summary: RunSummary) -> None:
        summary.skipped.append(item)
        self.on_skip(item)

    def _tokenizer(self, candidates: Sequence[Candidate]) -> Tokenizer:
        vocab = load_vocabulary(self.store.conn)
        if vocab is None:
            self.progress.phase = "learning vocabulary"
            self.on_progress(self.progress)
            texts = list(_training_sample(candidates))
            if not texts:
                raise InvalidRequest("nothing to learn a vocabulary from: no readable text files")
            vocab = train_vocabulary(texts, self.options.vocab_size)
            with self.store.write() as conn:
                if load_vocabulary(conn) is None:
                    save_vocabulary(conn, vocab)
                    self.store.set_meta(conn, "vocab_size", str(vocab.size))
                    # Atom placement follows the Unicode database of the Python that built it.
                    self.store.set_meta(conn, "unicode_version", geometry.UNICODE_VERSION)
            vocab = load_vocabulary(self.store.conn)
            assert vocab is not None
        return Tokenizer(vocab)

    def _store_batch(self, batch: list[Prepared], tokenizer: Tokenizer,
                     summary: RunSummary) -> None:
        self.progress.phase = "ingesting"
        now = time.time()
        with self.store.write() as conn:
            replaced = [p.old_id for p in batch if p.old_id is not None]
            if replaced:
                self._delete(conn, replaced)
            for pending in batch:
                tokens = pending.tokens
                conn.execute(
                    "INSERT INTO documents(path, content_hash, size, language, run_id, n_tokens,"
                    " ingested) VALUES(?, ?, ?, ?, ?, ?, ?)",
                    (pending.path, pending.digest, pending.size, pending.language,
                     summary.run_id, len(tokens), now),
                )
                doc_id = conn.last_insert_rowid()
                stream = pack_tokens(tokens)
                conn.execute("INSERT INTO document_tokens(doc_id, tokens, checksum)"
                             " VALUES(?, ?, ?)", (doc_id, stream, blob_checksum(stream)))
                document = IngestedDocument(doc_id, summary.run_id, pending.path, pending.text,
                                            pending.language, tokens, pending.facts)
                for analyzer in self.analyzers:
                    analyzer.analyze(conn, document, tokenizer)
            summary.added += sum(1 for p in batch if p.old_id is None)
            summary.changed += len(replaced)
            summary.bytes_ingested += sum(p.size for p in batch)
            self._save_counters(conn, summary)

    def _delete(self, conn: apsw.Connection, doc_ids: Sequence[int]) -> None:
        for analyzer in self.analyzers:
            analyzer.forget(conn, doc_ids)
        conn.executemany("DELETE FROM documents WHERE id = ?", [(i,) for i in doc_ids])

    def _prune(self, present: set[str], summary: RunSummary) -> None:
        roots = [str(r.resolve()) for r in self.options.roots]
        gone = [
            doc_id for doc_id, path in self.store.conn.execute("SELECT id, path FROM documents")
            if path not in present and any(_under(path, root) for root in roots)
        ]
        if gone:
            with self.store.write() as conn:
                self._delete(conn, gone)
                summary.removed = len(gone)
                self._save_counters(conn, summary)

    def _save_counters(self, conn: apsw.Connection, summary: RunSummary) -> None:
        conn.execute(
            "UPDATE runs SET files_added = ?, files_changed = ?, files_unchanged = ?,"
            " files_removed = ?, files_skipped = ?, bytes_ingested = ? WHERE id = ?",
            (summary.added, summary.changed, summary.unchanged, summary.removed,
             len(summary.skipped), summary.bytes_ingested, summary.run_id),
        )

    def _finish(self, summary: RunSummary) -> None:
        with self.store.write() as conn:
            self._save_counters(conn, summary)
            conn.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                         (summary.status, time.time(), summary.run_id))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _training_sample(candidates: Sequence[Candidate]):
    """Texts to learn the vocabulary from: every k-th file so a huge run is sampled evenly."""
    total = sum(c.size for c in candidates)
    step = max(1, math.ceil(total / TRAINING_SAMPLE_BYTES))
    for candidate in candidates[::step]:
        try:
            yield candidate.path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
