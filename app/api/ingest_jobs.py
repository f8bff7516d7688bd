"""Ingest runs started over HTTP: one at a time, in a background thread, cancellable.

The run writes through its own connection to the hypercube file while the server keeps
answering from its engine. When a run changed anything, a new engine is loaded from the file
and swapped into the :class:`EngineSlot`; requests already running finish on the old one. If
that load fails, the server keeps answering from the old engine, ``/health`` says it is
degraded and why, and the load is retried with backoff (:class:`ModelLoader`).

Memory: an ingest allocates and frees far more than the model it leaves behind (texts,
tokenizer training, parse trees). The freed heap stays with the process unless it is handed
back, so after every run the worker thread returns it (:func:`release_free_memory`); and only
the last :data:`KEPT_JOBS` runs' progress objects are kept (older runs are read from the file).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from app.api.runtime.engine_slot import EngineSlot
from app.api.runtime.heap import release_free_memory
from app.api.runtime.model_loader import ModelLoader
from app.api.runtime.supervision import reason_of
from app.engine.types import EngineProtocol
from app.errors import HypercubeError, NotFound, StoreLocked
from app.ingest import IngestOptions, IngestPlugins, IngestRun, Progress, RunSummary
from app.store import Store
from app.store.runs import ingest_is_running

log = logging.getLogger("hypercube.ingest")

EngineLoader = Callable[[Path], EngineProtocol]
RUN_COLUMNS = ("id", "started", "finished", "status", "roots", "files_added", "files_changed",
               "files_unchanged", "files_removed", "files_skipped", "bytes_ingested")
# How long POST /v1/ingest waits for the run to be registered before answering.
_START_TIMEOUT = 30.0
# Runs whose live progress is kept in memory; older ones are described from their row.
KEPT_JOBS = 16


@dataclass
class IngestJob:
    roots: list[str]
    cancel: threading.Event = field(default_factory=threading.Event)
    registered: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None
    progress: Progress = field(default_factory=Progress)
    summary: RunSummary | None = None
    error: HypercubeError | None = None
    model_reloaded: bool = False
    changes: int = 0  # bumped on every progress report, so watchers see something moved

    def snapshot(self) -> dict[str, Any]:
        return {
            "phase": self.progress.phase,
            "files_done": self.progress.files_done,
            "files_total": self.progress.files_total,
            "bytes_done": self.progress.bytes_done,
            "bytes_total": self.progress.bytes_total,
            "current": self.progress.current,
        }


class IngestManager:
    def __init__(self, db_path: Path, slot: EngineSlot, loader: EngineLoader | None,
                 plugins: IngestPlugins) -> None:
        self.db_path = db_path
        self.plugins = plugins
        self.slot = slot
        self.loader = loader
        self._jobs: dict[int, IngestJob] = {}
        self._active: IngestJob | None = None
        self._lock = threading.Lock()
        self._retry: ModelLoader | None = None

    def close(self) -> None:
        """Stop retrying a failed reload (a run in progress is abandoned at exit)."""
        if self._retry is not None:
            self._retry.stop()

    def start(self, roots: list[Path], prune: bool, workers: int = 1) -> IngestJob:
        job = IngestJob([str(r) for r in roots])
        with self._lock:
            if self._active is not None and not self._active.finished.is_set():
                raise StoreLocked(f"ingest run {self._active.run_id} is still running; "
                                  "cancel it or wait for it to finish")
            self._active = job
        thread = threading.Thread(target=self._run, args=(job, roots, prune, workers),
                                  name="hypercube-ingest", daemon=True)
        thread.start()
        job.registered.wait(_START_TIMEOUT)
        if job.run_id is None and job.error is not None:
            raise job.error
        return job

    def cancel(self, run_id: int) -> None:
        job = self._jobs.get(run_id)
        if job is not None:
            job.cancel.set()
        else:
            self.run(run_id)  # 404 for an unknown run; a finished one has nothing to cancel

    def job(self, run_id: int) -> IngestJob | None:
        return self._jobs.get(run_id)

    def wait(self, job: IngestJob, timeout: float | None = None) -> bool:
        return job.finished.wait(timeout)

    # -- records ------------------------------------------------------------------------

    def runs(self, limit: int) -> list[dict[str, Any]]:
        with Store(self.db_path, readonly=True) as store:
            rows = store.conn.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._describe(dict(zip(RUN_COLUMNS, row, strict=True))) for row in rows]

    def run(self, run_id: int) -> dict[str, Any]:
        with Store(self.db_path, readonly=True) as store:
            row = store.conn.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no ingest run {run_id}", param="run_id")
        return self._describe(dict(zip(RUN_COLUMNS, row, strict=True)))

    def _describe(self, row: dict[str, Any]) -> dict[str, Any]:
        job = self._jobs.get(row["id"])
        if row["status"] == "running" and job is None and ingest_is_running(self.db_path) is False:
            # Its process is gone (the next writable open records it); see app.store.runs.
            row = dict(row, status="interrupted")
        result: dict[str, Any] = {
            "id": row["id"],
            "object": "ingest.run",
            "status": row["status"],
            "roots": orjson.loads(row["roots"]),
            "started_at": row["started"],
            "finished_at": row["finished"],
            "files": {"added": row["files_added"], "changed": row["files_changed"],
                      "unchanged": row["files_unchanged"], "removed": row["files_removed"],
                      "skipped": row["files_skipped"]},
            "bytes_ingested": row["bytes_ingested"],
        }
        if job is not None:
            result["progress"] = job.snapshot()
            result["model_reloaded"] = job.model_reloaded
            if job.summary is not None and job.summary.skipped:
                result["skipped"] = job.summary.as_dict()["skipped"]
            if job.error is not None:
                result["error"] = job.error.to_openai()["error"]
            if not job.finished.is_set():
                # The run row may be final while the model is still being reloaded.
                result["status"] = "running"
            elif job.error is not None:
                result["status"] = "failed"
        return result

    # -- the background thread ----------------------------------------------------------

    def _run(self, job: IngestJob, roots: list[Path], prune: bool, workers: int) -> None:
        try:
            with Store(self.db_path) as store:
                def on_progress(progress: Progress) -> None:
                    if job.run_id is None:
                        # We hold the ingest lock, so the one running run is ours.
                        job.run_id = store.scalar(
                            "SELECT id FROM runs WHERE status = 'running' ORDER BY id DESC")
                        self._keep(job)
                        job.registered.set()
                    job.progress = dataclasses.replace(progress)
                    job.changes += 1

                job.summary = IngestRun(
                    store, IngestOptions(roots=roots, prune=prune, workers=workers),
                    analyzers=self.plugins.analyzers(), listeners=self.plugins.listeners(),
                    on_progress=on_progress, cancel=job.cancel,
                ).run()
            summary = job.summary
            if summary.status == "done" and summary.added + summary.changed + summary.removed:
                self._reload(job)
        except HypercubeError as exc:
            job.error = exc
        except Exception:
            log.exception("ingest run %s failed", job.run_id)
            job.error = HypercubeError("the ingest run failed on the server; see its log")
        finally:
            release_free_memory()
            job.changes += 1
            job.finished.set()
            job.registered.set()

    def _keep(self, job: IngestJob) -> None:
        assert job.run_id is not None
        with self._lock:
            self._jobs[job.run_id] = job
            for old in sorted(self._jobs)[:-KEPT_JOBS]:
                if self._jobs[old].finished.is_set():
                    del self._jobs[old]

    def _reload(self, job: IngestJob) -> None:
        if self.loader is None:
            return
        job.progress = dataclasses.replace(job.progress, phase="loading model")
        job.changes += 1
        started = time.perf_counter()
        loader = self.loader
        try:
            engine = loader(self.db_path)
        except Exception as exc:
            # Keep answering from the engine we have, say so, and keep trying.
            self.slot.fail(f"the model could not be reloaded after ingest run {job.run_id}: "
                           f"{reason_of(exc)}; answering from the previous model meanwhile")
            if self._retry is not None:
                self._retry.stop()
            self._retry = ModelLoader(self.slot, lambda: loader(self.db_path),
                                      what="reload the model after an ingest")
            self._retry.start()
            raise
        self.slot.set(engine)
        job.model_reloaded = True
        job.progress = dataclasses.replace(job.progress, phase="done")
        log.info("model reloaded after ingest run %s in %.2fs", job.run_id,
                 time.perf_counter() - started)
