"""Ingest throughput with 1 and N worker processes, phase by phase, with peak memory.

    python tests/bench/bench_ingest_workers.py CORPUS [--workers 1 2]

Each run ingests CORPUS into a fresh hypercube in a temporary folder. The vocabulary is
learned first (as the run would learn it, on one core) and timed apart, so ``ingest_s`` is
the per-file work (read, tokenize, parse: the part ``--workers`` spreads; store: the writer's)
and ``model_s`` the model fit after the run. CPU seconds are reported for the writer and for
the workers, which a busy machine does not inflate the way it does wall-clock times. Peak RSS
is sampled (every 50 ms) for this process and for this process plus its workers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from app.compose import Root
from app.ingest import IngestOptions, IngestRun, RunSummary
from app.ingest.pipeline import DEFAULT_MAX_FILE_SIZE
from app.ingest.walk import Candidate, walk
from app.model.maintain import SegmentBuild
from app.store import Store
from tests.bench.common import PeakMemory


class _ModelTimer:
    """Wraps the model listener to note when the per-file work ended."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.started = 0.0
        self.writer_cpu = 0.0
        self.workers_cpu = 0.0

    def after_run(self, store: Store, summary: RunSummary, build: SegmentBuild) -> None:
        self.started = time.perf_counter()
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, joined
        self.writer_cpu = own.ru_utime + own.ru_stime
        self.workers_cpu = children.ru_utime + children.ru_stime
        self.inner.after_run(store, summary, build)  # type: ignore[attr-defined]


def measure(corpus: Path, workers: int, folder: Path) -> dict[str, object]:
    root = Root.from_environment()
    with PeakMemory(os.getpid()) as peak, Store(folder / f"w{workers}.db") as store:
        started = time.perf_counter()
        found = [c for c in walk([corpus], DEFAULT_MAX_FILE_SIZE) if isinstance(c, Candidate)]
        # The vocabulary exactly as the run would learn it (its own step, reused here).
        IngestRun(store, IngestOptions(roots=[corpus]))._tokenizer(found)
        vocab_done = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_SELF)
        timers = [_ModelTimer(listener) for listener in root.listeners()]
        summary = IngestRun(store, IngestOptions(roots=[corpus], workers=workers),
                            analyzers=root.analyzers(), listeners=timers).run()
        ended = time.perf_counter()
    megabytes = summary.bytes_ingested / 1e6
    ingest_s = timers[0].started - vocab_done
    return {
        "workers": workers, "files": summary.added, "mb": round(megabytes, 2),
        "vocab_s": round(vocab_done - started, 1), "ingest_s": round(ingest_s, 1),
        "ingest_mb_per_s": round(megabytes / ingest_s, 3),
        "writer_cpu_s": round(timers[0].writer_cpu - before.ru_utime - before.ru_stime, 1),
        "workers_cpu_s": round(timers[0].workers_cpu, 1),
        "model_s": round(ended - timers[0].started, 1), "total_s": round(ended - started, 1),
        "total_mb_per_s": round(megabytes / (ended - started), 3),
        "peak_rss_writer_mb": round(peak.peak), "peak_rss_with_workers_mb": round(peak.tree_peak),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hypercube-bench-") as folder:
        for workers in args.workers:
            print(json.dumps(measure(args.corpus, workers, Path(folder))), flush=True)
    return 0


if __name__ == "__main__":  # guarded: the workers import this module again (spawn)
    sys.exit(main())
