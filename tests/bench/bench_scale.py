"""Scale benchmark: ingest, serve and complete over corpora of growing size.

Each corpus is the Python sources of real packages, from pinned PyPI sdists (checked against
their SHA-256), taken package by package in a fixed order until the size is reached; no file
is taken twice (deduplication would hide the cost), and one file in twenty is held out for the
completion prompts. For each size it runs the real CLI and server in subprocesses and prints:

- ingest: wall and CPU seconds of ``hypercube ingest`` (children included), MB/s per
  CPU-second ("per core") and per wall second ("all cores"), its peak RSS;
- the hypercube's size ÷ the corpus's;
- serve: seconds from ``hypercube serve`` to a ready ``/health``, and its idle RSS;
- completion p50/p99 over held-out line completions (client side, one keep-alive connection);
- the slopes between the smallest and the largest size: RSS and seconds per MB, and the
  log-log slope of completion p50 against corpus size (0: flat, 1: linear).

Past the PyPI packages' ~120 MB of Python, the corpus goes on with the C sources of Debian's
pinned kernel source package (linux-source-6.1, ~1 GB of ``.c``/``.h``), so the issue's
1000 MB size is real code too; the completion prompts stay Python's.

Usage: python tests/bench/bench_scale.py [--sizes 10 100 1000] [--cases 50] [--json OUT]
(the 1000 MB size takes ~30 minutes of ingesting on two cores and ~4 GB of disk).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.ingest.pipeline import DEFAULT_MAX_FILE_SIZE
from tests.bench.code_projects import _check_sha256
from tests.bench.common import report, rss_mb
from tests.bench.completion_corpus import MeasuredCode, measured_code
from tests.bench.completion_server import Client, ServerProcess

CACHE = Path(os.environ.get("HYPERCUBE_BENCH_CACHE",
                            Path.home() / ".cache" / "hypercube-bench")) / "scale"
# Pure-Python sdists (nothing to build), largest share of code first; (requirement, SHA-256).
PACKAGES = (
    ("Django==5.1.4", "de450c09e91879fa5a307f696e57c851955c910a438a35e6b4c895e86bedc82a"),
    ("sympy==1.13.3", "b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9"),
    ("Twisted==24.11.0", "695d0556d5ec579dcc464d2856b634880ed1319f45b10d19043f2b57eb0115b5"),
    ("Sphinx==8.1.3", "43c1911eecb0d3e161ad78611bc905d1ad0e523e4ddc202a58a821773dc4c927"),
    ("salt==3007.1", "b933ac4cb3e4b1118b46dada55c9cc6bdc6f0f94b4c92877aec44b25c6a28c9a"),
    ("ansible-core==2.18.1",
     "14cac1f92bbdae881cb0616eddeb17925e8cb507e486087975e724533d9de74f"),
    ("networkx==3.4.2", "307c3669428c5362aab27c8a1260aa8f47c4e91d3891f48be0141738d8d053e1"),
    ("Pygments==2.18.0", "786ff802f32e91311bff3889f6e9a86e81505fe99f2735bb6d60ae0c5004f199"),
    ("pip==24.3.1", "ebcb60557f2aefabc2e0f918751cd24ea0d56d8ec5445fe1807f1d2109660b99"),
    ("hypothesis==6.122.3", "f4c927ce0ec739fa6266e4572949d0b54e24a14601a2bc5fec8f78e16af57918"),
)
# Past the PyPI packages' ~120 MB (the 1000 MB corpus): the C sources of Debian's kernel
# source package, (package, version, SHA-256 of the .deb, the tarball inside it).
DEBIAN_SOURCES = (
    ("linux-source-6.1", "6.1.192-3",
     "5259c57ca92092da39bd2ea803046da0e3c28f2b6a11ea20f6297468188ceb67",
     "usr/src/linux-source-6.1.tar.xz"),
)
C_SUFFIXES = (".c", ".h")
HELD_OUT_EVERY = 20
MAX_TOKENS = 24


@dataclass(frozen=True)
class Corpus:
    root: Path
    bytes: int
    files: int
    held_out: list[Path]


def sdist_root(requirement: str, sha256: str) -> Path:
    """The unpacked sdist (downloaded with pip once, checked against its pinned SHA-256)."""
    name, version = requirement.split("==")
    downloads = CACHE / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    # An sdist's file name is its normalised name: lower case, "_" for "-".
    wanted = f"{name}-{version}.tar.gz".lower().replace("-", "_")

    def downloaded() -> list[Path]:
        return [p for p in downloads.glob("*.tar.gz")
                if p.name.lower().replace("-", "_") == wanted]

    found = downloaded()
    if not found:
        subprocess.run(["pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d",
                        str(downloads), requirement], check=True, stdout=subprocess.DEVNULL)
        found = downloaded()
    (sdist,) = found
    _check_sha256(sdist, sha256)
    unpacked = CACHE / "unpacked" / sdist.name.removesuffix(".tar.gz")
    if not unpacked.exists():
        partial = unpacked.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(sdist) as archive:
            archive.extractall(partial, filter="data")
        partial.rename(unpacked)
    return unpacked


def debian_source_root(package: str, version: str, sha256: str, tarball: str) -> Path:
    """The C sources of a Debian package's source tarball (apt-get download once, checked
    against its pinned SHA-256, only ``C_SUFFIXES`` files unpacked)."""
    downloads = CACHE / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    deb = downloads / f"{package}_{version}_all.deb"
    if not deb.exists():
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=downloads,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _check_sha256(deb, sha256)
    unpacked = CACHE / "unpacked" / f"{package}-{version}"
    if not unpacked.exists():
        partial = unpacked.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(partial / "deb")], check=True)
        with tarfile.open(partial / "deb" / tarball) as archive:
            archive.extractall(partial / "src", filter="data", members=(
                m for m in archive if m.isfile() and m.name.endswith(C_SUFFIXES)))
        shutil.rmtree(partial / "deb")
        (partial / "src").rename(unpacked.with_suffix(".src"))
        shutil.rmtree(partial)
        unpacked.with_suffix(".src").rename(unpacked)
    return unpacked


def _package_files() -> Iterator[tuple[Path, Path]]:
    """(package folder, file) of every source file, in the fixed order: the PyPI packages'
    Python, then the Debian sources' C."""
    for requirement, sha256 in PACKAGES:
        package = sdist_root(requirement, sha256)
        for path in sorted(package.rglob("*.py")):
            yield package, path
    for source in DEBIAN_SOURCES:
        package = debian_source_root(*source)
        for path in sorted(p for p in package.rglob("*") if p.suffix in C_SUFFIXES):
            yield package, path


def build_corpus(size_mb: int) -> Corpus:
    """The first ``size_mb`` MB of the packages' source files (whole files, each once); the
    held-out files the prompts come from are Python's."""
    root = CACHE / f"corpus-{size_mb}mb"
    held_root = CACHE / f"held-out-{size_mb}mb"
    if root.exists():
        shutil.rmtree(root)
    shutil.rmtree(held_root, ignore_errors=True)
    seen: set[bytes] = set()
    total = files = 0
    held_out: list[Path] = []
    for package, path in _package_files():
        if total >= size_mb * 1_000_000:
            break
        data = path.read_bytes()
        digest = hashlib.blake2b(data, digest_size=16).digest()
        # Files ingest would skip (generated register headers of several MB) are left out.
        if not data.strip() or digest in seen or len(data) > DEFAULT_MAX_FILE_SIZE:
            continue
        seen.add(digest)
        relative = path.relative_to(package.parent)
        if digest[0] % HELD_OUT_EVERY == 0:
            target = held_root / relative
            if path.suffix == ".py":
                held_out.append(target)
        else:
            target = root / relative
            total += len(data)
            files += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if total < size_mb * 1_000_000:
        raise SystemExit(f"the pinned packages hold only {total / 1e6:.0f} MB of source; "
                         f"add packages to PACKAGES or DEBIAN_SOURCES for {size_mb} MB")
    return Corpus(root, total, files, held_out)


def run_measured(command: list[str], code: MeasuredCode) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one command and its children."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=code.env, cwd=code.cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        assert process.stderr is not None
        raise SystemExit(f"{' '.join(command[2:4])} failed: "
                         f"{process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def line_cases(held_out: list[Path], count: int, seed: int = 0) -> list[str]:
    """Prompts that stop in the middle of a held-out line (its first half typed)."""
    rng = random.Random(seed)
    cases: list[str] = []
    files = sorted(held_out)
    while files and len(cases) < count:
        text = files[rng.randrange(len(files))].read_text("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        candidates = [i for i, line in enumerate(lines) if len(line.strip()) >= 12]
        if not candidates:
            continue
        index = rng.choice(candidates)
        line = lines[index]
        cut = len(line) - len(line.lstrip()) + len(line.strip()) // 2
        cases.append(("".join(lines[:index]) + line[:cut])[-4000:])
    return cases


def serve_and_complete(db: Path, code: MeasuredCode, cases: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    with ServerProcess(db, code) as server:
        ready = time.perf_counter() - start
        idle = rss_mb(server.process.pid)
        client = Client(server.host, server.port)
        latencies: list[float] = []
        for prompt in cases:
            status, answer, seconds = client.post("/v1/completions", {
                "model": "hypercube", "prompt": prompt, "max_tokens": MAX_TOKENS,
                "temperature": 0, "scope": "line", "filename": "held_out.py"})
            if status != 200:
                raise SystemExit(f"completion failed ({status}): {answer}")
            latencies.append(seconds * 1000)
        busy = rss_mb(server.process.pid)
    latencies.sort()
    return {"serve_start_s": round(ready, 2), "serve_idle_rss_mb": round(idle),
            "serve_rss_after_completions_mb": round(busy),
            "completion_p50_ms": round(statistics.median(latencies), 1),
            "completion_p99_ms": round(latencies[min(len(latencies) - 1,
                                                     int(0.99 * len(latencies)))], 1)}


def measure(size_mb: int, code: MeasuredCode, cases: int) -> dict[str, Any]:
    corpus = build_corpus(size_mb)
    db = CACHE / f"scale-{size_mb}mb.hypercube"
    for stale in db.parent.glob(db.name + "*"):
        if stale.is_dir():  # its model segment files (FILE.segments/)
            shutil.rmtree(stale)
        else:
            stale.unlink()
    wall, cpu, peak = run_measured([sys.executable, "-m", "app", "ingest", "--quiet",
                                    "--db", str(db), str(corpus.root)], code)
    megabytes = corpus.bytes / 1e6
    stored = db.stat().st_size + sum(
        p.stat().st_size for p in db.with_name(db.name + ".segments").glob("*.seg"))
    figures = {
        "corpus_mb": round(megabytes, 1), "files": corpus.files,
        "ingest_wall_s": round(wall, 1), "ingest_cpu_s": round(cpu, 1),
        "ingest_mb_per_s_per_core": round(megabytes / cpu, 3),
        "ingest_mb_per_s": round(megabytes / wall, 3),
        "ingest_peak_rss_mb": round(peak),
        "hypercube_mb": round(stored / 1e6, 1),
        "hypercube_over_corpus": round(stored / corpus.bytes, 2),
    }
    figures.update(serve_and_complete(db, code, line_cases(corpus.held_out, cases)))
    return figures


def slopes(by_size: dict[int, dict[str, Any]]) -> dict[str, float]:
    small, large = by_size[min(by_size)], by_size[max(by_size)]
    grown = large["corpus_mb"] - small["corpus_mb"]
    ratio = large["corpus_mb"] / small["corpus_mb"]
    return {
        "ingest_peak_rss_mb_per_corpus_mb": round(
            (large["ingest_peak_rss_mb"] - small["ingest_peak_rss_mb"]) / grown, 2),
        "ingest_cpu_s_per_corpus_mb": round(
            (large["ingest_cpu_s"] - small["ingest_cpu_s"]) / grown, 2),
        "serve_idle_rss_mb_per_corpus_mb": round(
            (large["serve_idle_rss_mb"] - small["serve_idle_rss_mb"]) / grown, 2),
        "completion_p50_log_log_slope": round(
            math.log(large["completion_p50_ms"] / small["completion_p50_ms"])
            / math.log(ratio), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100],
                        help="corpus sizes in MB (default: 10 100)")
    parser.add_argument("--cases", type=int, default=50, help="completions timed per size")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    code = measured_code(CACHE / "code")
    by_size: dict[int, dict[str, Any]] = {}
    for size in sorted(args.sizes):
        print(f"bench_scale: {size} MB …", file=sys.stderr, flush=True)
        by_size[size] = measure(size, code, args.cases)
        print(f"bench_scale: {size} MB: {by_size[size]}", file=sys.stderr, flush=True)
    results: dict[str, Any] = {"command": " ".join(sys.argv), "code_version": code.version,
                               "cpus": os.cpu_count(), "packages": [r for r, _ in PACKAGES],
                               "sizes": {f"{size}_mb": f for size, f in by_size.items()}}
    if len(by_size) > 1:
        results["slopes"] = slopes(by_size)
    report(results, args.json)


if __name__ == "__main__":
    main()
