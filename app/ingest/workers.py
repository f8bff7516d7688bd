"""Preparing an ingest's files on every core: a pool of worker processes, results in order.

The walk's files are cut into chunks; each worker process reads, hashes, decodes, tokenizes
and analyzes (tree-sitter) a whole chunk with :func:`app.ingest.prepare.prepare` and sends
the outcomes back. :func:`prepared` yields them in the walk's order, however the workers
finish, so the one writer (the caller) stores exactly what, and in the order, an in-process
run would. At most two chunks per worker are in flight: while the writer stores one, the
workers prepare the next ones, and memory stays bounded whatever the corpus size.

Workers are started with ``spawn`` on every platform: it is safe in a process that already
runs threads (the API server's ingest jobs, a progress bar) and it is the one start method
the frozen executable supports (``multiprocessing.freeze_support()`` in ``build/entry.py``).

The pool is one :class:`Executor`; a Dask cluster (``--cluster``, :mod:`app.ingest.cluster`)
is the other, behind the same interface, driven by the same :func:`prepared`.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from app.errors import HypercubeError
from app.ingest.prepare import Outcome, Task, prepare
from app.ingest.protocols import Preparer
from app.tokenizer import Tokenizer, Vocabulary

if TYPE_CHECKING:
    import numpy as np

    from app.model.segment import Segment

# A chunk is small enough that the first one is ready soon after the vocabulary (the writer
# waits for it) and large enough that sending it costs little next to preparing it.
CHUNK_BYTES = 512_000
CHUNK_FILES = 32
# Chunks submitted per worker before the first result is taken: one being prepared, one
# waiting, so a worker never idles while the writer stores.
IN_FLIGHT_PER_WORKER = 2


def chunks(tasks: Sequence[Task]) -> list[list[Task]]:
    """The tasks cut, in order, into chunks of at most CHUNK_FILES files or about
    CHUNK_BYTES bytes."""
    result: list[list[Task]] = []
    chunk: list[Task] = []
    size = 0
    for task in tasks:
        chunk.append(task)
        size += task.size
        if size >= CHUNK_BYTES or len(chunk) >= CHUNK_FILES:
            result.append(chunk)
            chunk, size = [], 0
    if chunk:
        result.append(chunk)
    return result


class Executor(Protocol):
    """Where chunks of files are prepared: :class:`Processes` on this machine, or a Dask
    cluster (:class:`app.ingest.cluster.DaskCluster`). :func:`prepared` drives either the
    same way: a bounded window of chunks in flight, results taken in the walk's order."""

    def start(self, tokenizer: Tokenizer, preparers: Sequence[tuple[str, Preparer]],
              chunks: int) -> int:
        """Get ready to prepare ``chunks`` chunks; the number to keep in flight (0: prepare
        them in this process instead)."""

    def submit(self, chunk: list[Task]) -> object:
        """Start preparing a chunk; a handle for :meth:`result`."""

    def result(self, handle: object) -> list[Outcome]:
        """The chunk's outcomes, in order (waits for them; a lost worker is a
        :class:`HypercubeError`)."""

    def stop(self) -> None:
        """Drop the chunks not yet prepared and release the workers (after :meth:`start`)."""

    def build_segment(self, streams: Sequence[np.ndarray], vocab_size: int,
                      doc_ids: Sequence[int]) -> Segment:
        """A model segment of these token streams (after the files are stored, before
        :meth:`close`): one at a time, so the memory a build takes is one segment's."""

    def close(self) -> None:
        """Let go of the workers for good (after the run)."""


class Processes:
    """Worker processes on this machine (``--workers N``)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self, tokenizer: Tokenizer, preparers: Sequence[tuple[str, Preparer]],
              chunks: int) -> int:
        workers = min(self.workers, chunks)
        if workers <= 1:
            return 0
        self._pool = ProcessPoolExecutor(workers,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_worker,
                                         initargs=(tokenizer.vocab, list(preparers)))
        return IN_FLIGHT_PER_WORKER * workers

    def submit(self, chunk: list[Task]) -> object:
        assert self._pool is not None, "start() made the pool"
        return self._pool.submit(_prepare_chunk, chunk)

    def result(self, handle: object) -> list[Outcome]:
        assert isinstance(handle, Future)
        try:
            outcomes: list[Outcome] = handle.result()
        except BrokenProcessPool as exc:
            raise HypercubeError(
                "an ingest worker process died (out of memory?); what was stored is "
                "kept: re-run the ingest, with fewer --workers if it happens again") from exc
        return outcomes

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def build_segment(self, streams: Sequence[np.ndarray], vocab_size: int,
                      doc_ids: Sequence[int]) -> Segment:
        # In this process: sending the streams to a worker and the arrays back would only
        # add copies (one build at a time uses one core either way). Imported here: the
        # worker processes, which import this module, never build.
        from app.model.segment import build_segment

        return build_segment(streams, vocab_size, doc_ids)

    def close(self) -> None:
        self.stop()


def prepared(tasks: Sequence[Task], tokenizer: Tokenizer,
             preparers: Sequence[tuple[str, Preparer]], executor: Executor | int
             ) -> Generator[Outcome, None, None]:
    """Each task's outcome, in the order of ``tasks``, prepared by ``executor`` (a number:
    that many local processes; in this one when the executor declines, e.g. one worker or
    only one chunk to prepare).

    Close the iterator (``contextlib.closing``) when stopping early: that cancels the
    chunks not yet started and waits only for the ones being prepared.
    """
    if isinstance(executor, int):
        executor = Processes(executor)
    work = chunks(tasks)
    try:
        in_flight = executor.start(tokenizer, preparers, len(work))
        if in_flight <= 0:
            for task in tasks:
                yield prepare(task, tokenizer, preparers)
            return
        pending = iter(work)
        window: deque[object] = deque(
            executor.submit(chunk) for chunk in islice(pending, in_flight))
        while window:
            outcomes = executor.result(window.popleft())
            # Refill before handing the outcomes over, so the workers keep busy while the
            # writer stores them.
            following = next(pending, None)
            if following is not None:
                window.append(executor.submit(following))
            yield from outcomes
    finally:
        executor.stop()


# -- in the worker process --------------------------------------------------------------------

_tokenizer: Tokenizer | None = None
_preparers: list[tuple[str, Preparer]] = []


def _start_worker(vocab: Vocabulary, preparers: list[tuple[str, Preparer]]) -> None:
    global _tokenizer, _preparers
    _tokenizer = Tokenizer(vocab)
    _preparers = preparers
    # Ctrl-C reaches the whole process group; the writer handles it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch",
                         daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    """Exit as soon as the writer is gone (killed): an orphaned worker would otherwise wait
    for work forever, holding its memory."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


def _prepare_chunk(chunk: list[Task]) -> list[Outcome]:
    assert _tokenizer is not None, "the pool's initializer builds the tokenizer"
    return [prepare(task, _tokenizer, _preparers) for task in chunk]
