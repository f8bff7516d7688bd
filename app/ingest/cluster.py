"""Preparing an ingest's files on a Dask cluster: ``hypercube ingest --cluster ADDRESS``.

The second :class:`app.ingest.workers.Executor`, next to the local worker processes: the
same chunks, a bounded window of them in flight (two per worker thread), results taken in
the walk's order by :func:`app.ingest.workers.prepared`, so the one writer, here, stores
exactly what a single-process run stores, one transaction per batch.

What runs where. This process walks the folders, learns the vocabulary if the hypercube has
none, reads each file and hashes it (an unchanged file goes no further), and writes the
hypercube. The cluster's workers decode, tokenize and analyze (tree-sitter) the bytes they
are sent. File bytes travel with each task, so the workers need no shared filesystem and
never see a path they could open. After the files, the workers build the model's shards
(:meth:`DaskCluster.build_segment`, one segment of at most ``segment_tokens`` at a time: the
token streams go out, the arrays come back to be written here). They need the same
Hypercube version installed (its
``app`` package, for the tokenizer and the analyzers' preparers, which pickle by name).
The vocabulary is sent to every worker once (``scatter``) and turned into a tokenizer once
per worker process, cached by the vocabulary's digest.

Dask (``dask.distributed``) rather than Ray: pure-Python wheels of a few MB, a
``LocalCluster`` of processes for trying it on one machine and for the tests, a plain
scheduler address (``tcp://host:8786``) for a real cluster, no daemon to install.

``distributed`` is imported only when cluster mode is asked for: it is an optional extra
(``pip install 'hypercube[cluster]'``) and left out of the single executable.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.errors import HypercubeError
from app.ingest.prepare import Outcome, Task, prepare_bytes, triage
from app.ingest.protocols import Preparer
from app.ingest.workers import IN_FLIGHT_PER_WORKER
from app.tokenizer import Tokenizer, Vocabulary

if TYPE_CHECKING:
    import numpy as np
    from distributed import Client, Future, LocalCluster

    from app.model.segment import Segment

NEEDS_EXTRA = "cluster mode needs the `cluster` extra: pip install 'hypercube[cluster]'"
NOT_IN_EXECUTABLE = ("cluster mode is not in the single executable: it needs the Python "
                     "package install, pip install 'hypercube[cluster]'")
_RERUN = "what was stored is kept: re-run the ingest to complete it"


def local_workers(address: str) -> int | None:
    """``local`` → one worker process per core, ``local:N`` → N; any other address: None."""
    if address == "local":
        return os.cpu_count() or 1
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise HypercubeError(f"--cluster {address}: local:N needs a number of workers ≥ 1")
        return int(count)
    return None


def _distributed() -> Any:
    if "__compiled__" in globals():  # the Nuitka executable, built without dask
        raise HypercubeError(NOT_IN_EXECUTABLE)
    try:
        import distributed
    except ImportError:
        raise HypercubeError(NEEDS_EXTRA) from None
    return distributed


class DaskCluster:
    """A connection to a Dask scheduler (or a local cluster it starts), as an executor.

    Connecting happens here, before the run writes anything: an unreachable scheduler fails
    the command with the hypercube untouched.
    """

    def __init__(self, address: str, *, timeout: float) -> None:
        distributed = _distributed()
        self.address = address
        self.timeout = timeout
        self._cluster: LocalCluster | None = None
        self._pending: set[Future] = set()
        self._vocab: Future | None = None
        self._key = ""
        self._preparers: list[tuple[str, Preparer]] = []
        local = local_workers(address)
        try:
            if local is not None:
                # Nothing listens beyond this machine: loopback only, no dashboard.
                self._cluster = distributed.LocalCluster(
                    n_workers=local, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None)
            self._client: Client = distributed.Client(
                self._cluster if self._cluster is not None else address, timeout=timeout,
                set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            self.close()
            raise HypercubeError(f"cannot reach the Dask scheduler at {address} "
                                 f"(within {timeout:g} s): {_first_line(exc)}") from exc
        try:
            self._client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise HypercubeError(f"the Dask scheduler at {address} has no workers (none "
                                 f"joined within {timeout:g} s): start some with "
                                 f"`dask worker {address}`") from exc

    # -- the executor -------------------------------------------------------------------

    def start(self, tokenizer: Tokenizer, preparers: Sequence[tuple[str, Preparer]],
              chunks: int) -> int:
        self._key = vocabulary_key(tokenizer.vocab)
        self._vocab = self._client.scatter(tokenizer.vocab, broadcast=True, hash=False)
        self._preparers = list(preparers)
        threads = sum(self._client.nthreads().values())
        return IN_FLIGHT_PER_WORKER * max(1, threads)

    def submit(self, chunk: list[Task]) -> object:
        items = [(task, triage(task)) for task in chunk]
        if not any(isinstance(found, bytes) for _, found in items):
            return [found for _, found in items]  # nothing to prepare: no round trip
        future = self._client.submit(_prepare_shipped, self._key, self._vocab,
                                     self._preparers, items, pure=False)
        self._pending.add(future)
        return future

    def result(self, handle: object) -> list[Outcome]:
        if isinstance(handle, list):
            return handle
        outcomes: list[Outcome] = self._wait(handle, "preparing files")
        self._pending.discard(handle)
        return outcomes

    def build_segment(self, streams: Sequence[np.ndarray], vocab_size: int,
                      doc_ids: Sequence[int]) -> Segment:
        """The segment built on a worker: the streams go there (2 bytes a token), the
        arrays come back to be written here, so this machine never holds a build's peak."""
        from app.model.segment import build_segment

        future = self._client.submit(build_segment, list(streams), vocab_size, list(doc_ids),
                                     pure=False)
        self._pending.add(future)
        try:
            segment: Segment = self._wait(future, "building a model segment")
        finally:
            self._pending.discard(future)
        return segment

    def _wait(self, future: Any, doing: str) -> Any:
        """The future's result, or a :class:`HypercubeError` once its worker died or no
        worker is left."""
        distributed = _distributed()
        without_workers = 0.0
        while True:
            try:
                return future.result(timeout=1.0)
            except TimeoutError:
                # A task waits forever for workers once none are left: give up as long
                # after the last one left as connecting may take.
                if self._client.nthreads():
                    without_workers = 0.0
                elif not without_workers:
                    without_workers = time.monotonic()
                elif time.monotonic() - without_workers > self.timeout:
                    raise HypercubeError(f"no Dask workers left at {self.address}; "
                                         f"{_RERUN}") from None
            except distributed.KilledWorker as exc:
                raise HypercubeError(f"a Dask worker died {doing} (out of memory?) "
                                     f"at {self.address}; {_RERUN}") from exc
            except distributed.CancelledError as exc:
                # Also when every worker holding the vocabulary died at once.
                raise HypercubeError(f"a Dask worker died (or the scheduler was lost) at "
                                     f"{self.address}; {_RERUN}") from exc

    def stop(self) -> None:
        """Cancel the chunks still in flight and let the workers drop the vocabulary."""
        leftovers = [*self._pending, *([self._vocab] if self._vocab is not None else [])]
        self._pending.clear()
        self._vocab = None
        if leftovers and self._client.status == "running":
            self._client.cancel(leftovers)

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def vocabulary_key(vocab: Vocabulary) -> str:
    """A digest that names the vocabulary: a worker keeps the tokenizer built for it."""
    digest = hashlib.blake2b(digest_size=16)
    for token in vocab.token_bytes:
        digest.update(len(token).to_bytes(4, "little") + token)
    digest.update(repr(vocab.merges).encode())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- on a Dask worker -------------------------------------------------------------------------

_tokenizers: dict[str, Tokenizer] = {}
_tokenizers_lock = threading.Lock()


def _tokenizer_for(key: str, vocab: Vocabulary) -> Tokenizer:
    """One tokenizer per worker process and vocabulary (building it takes a moment)."""
    with _tokenizers_lock:
        tokenizer = _tokenizers.get(key)
        if tokenizer is None:
            _tokenizers.clear()  # an earlier hypercube's vocabulary: no longer asked for
            tokenizer = _tokenizers[key] = Tokenizer(vocab)
        return tokenizer


def _prepare_shipped(key: str, vocab: Vocabulary, preparers: list[tuple[str, Preparer]],
                     items: list[tuple[Task, bytes | Outcome]]) -> list[Outcome]:
    """A chunk's outcomes from the bytes sent with it (or the outcome already found)."""
    tokenizer = _tokenizer_for(key, vocab)
    return [prepare_bytes(task, found, tokenizer, preparers) if isinstance(found, bytes)
            else found for task, found in items]
