"""Helpers the benchmark scripts share: the shared corpus, timing, memory."""

from __future__ import annotations

import json
import resource
import statistics
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_CORPUS = REPO.parent / "shared" / "corpora" / "python-stdlib-3.11.tar.xz"


def extract_corpus(archive: Path = SHARED_CORPUS) -> Path:
    """Extract the shared corpus to a temporary folder; returns the folder with train/ test/."""
    if not archive.exists():
        raise SystemExit(f"benchmark corpus not found: {archive} (it lives in ../shared)")
    target = Path(tempfile.mkdtemp(prefix="hypercube-bench-"))
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return next(p for p in target.iterdir() if p.is_dir())


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(results: object, json_path: Path | None) -> None:
    """Print the figures as JSON, and also save them when ``--json PATH`` was given."""
    text = json.dumps(results, indent=2)
    print(text)
    if json_path is not None:
        json_path.write_text(text + "\n", encoding="utf-8")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
