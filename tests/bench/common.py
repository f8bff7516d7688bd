"""Helpers the benchmark scripts share: the shared corpus, timing, memory."""

from __future__ import annotations

import json
import resource
import statistics
import tarfile
import tempfile
import threading
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


def rss_mb(pid: int) -> float:
    """A process's resident memory now (Linux /proc; 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


class PeakMemory:
    """Samples a process's resident memory while a load runs: ``peak`` of the process,
    ``tree_peak`` of it and its children together (an ingest's worker processes)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = self.tree_peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            own = rss_mb(self.pid)
            self.peak = max(self.peak, own)
            self.tree_peak = max(self.tree_peak,
                                 own + sum(rss_mb(child) for child in child_pids(self.pid)))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
